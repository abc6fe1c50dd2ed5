"""The Faust app: wires settings, the ingest producer, the ClickHouse sink agent and the HTTP views.

Run it with `faust -A ota_stream.app worker` or `ota-stream worker`.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import faust
from faust.types import StreamT

from ota_stream import metrics
from ota_stream.agents.dead_letters import DeadLetters
from ota_stream.agents.healer import Healer
from ota_stream.agents.sink import ClickHouseSink, SinkStats
from ota_stream.agents.watchdog import SinkWatchdog
from ota_stream.alerts.delivery import Deliverer
from ota_stream.alerts.engine import AlertEngine
from ota_stream.alerts.rules import RuleStore
from ota_stream.alerts.state import AlertStates, owned_partitions
from ota_stream.config import Settings, load_settings
from ota_stream.kafka import consumer, recovery
from ota_stream.kafka.healing import ConsumerRemedies
from ota_stream.kafka.options import client_options, faust_credentials
from ota_stream.kafka.producer import EventPublisher
from ota_stream.kafka.recovery import OrderedTableManager
from ota_stream.kafka.replication import durability_configs, retained_configs
from ota_stream.kafka.sensors import install_prometheus_monitor
from ota_stream.kafka.stream import WeightedStream
from ota_stream.kafka.topics import ResilientTopic
from ota_stream.logs import logging_config
from ota_stream.models import TimeWindow
from ota_stream.retry import retry_forever
from ota_stream.shutdown import Shutdown
from ota_stream.storage.service import Storage
from ota_stream.storage.writer import EventWriter
from ota_stream.tables.live import LiveWindows
from ota_stream.web import (
    admin,
    alerts_admin,
    analytics,
    compat,
    dashboard,
    export,
    health,
    ingest,
    mount,
    openapi,
    prometheus,
)
from ota_stream.web import live as live_views
from ota_stream.web.http_metrics import count_responses
from ota_stream.web.security import security, server_options

EXPIRY_INTERVAL_SECONDS = 10.0
LAG_INTERVAL_SECONDS = 5.0
METRICS_FLUSH_SECONDS = 5.0


def faust_options(settings: Settings, middlewares: list[Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "broker": settings.kafka_url,
        "datadir": str(settings.data_dir / "faust"),
        "web_bind": settings.server_host,
        "web_port": settings.server_port,
        "canonical_url": settings.canonical_url,
        "store": "rocksdb://",
        "web_application_options": {
            "middlewares": middlewares,
            "client_max_size": ingest.BATCH_LIMIT + 1,
            "handler_args": server_options(settings, facing_clients=settings.worker_socket is None),
        },
        "topic_partitions": settings.kafka_topic_partitions,
        "topic_replication_factor": settings.replication_factor,  # changelog and leader topics
        "consumer_auto_offset_reset": "earliest",
        # Faust creates the events topic while the group may already be joining; a short metadata age lets the
        # consumer see the new topic (and new partitions) within seconds instead of five minutes.
        "consumer_metadata_max_age_ms": 5000,
        "broker_commit_interval": settings.kafka_commit_interval_seconds,
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": max(1.0, settings.kafka_session_timeout_seconds / 4),
        "broker_rebalance_timeout": settings.kafka_session_timeout_seconds * 2,
        "producer_acks": -1,
        "autodiscover": False,
        "Topic": ResilientTopic,
        "Stream": WeightedStream,
        "TableManager": OrderedTableManager,
        "logging_config": logging_config(settings.log_level.value),
    }
    if settings.worker_socket is not None:  # ingest processes in front take SERVER_PORT (roles.py)
        options["web_transport"] = f"unix://{settings.worker_socket}"
    credentials = faust_credentials(settings)
    if credentials is not None:
        options["broker_credentials"] = credentials
    return options


class WorkerApp(faust.App):
    """Faust's app, whose stop first starts the shutdown clock (shutdown.py)."""

    shutdown: Shutdown | None = None

    async def on_stop(self) -> None:
        if self.shutdown is not None:
            self.shutdown.begin()
        await super().on_stop()


def wire_alerts(app: faust.App, settings: Settings, rules: RuleStore, live: LiveWindows) -> AlertEngine:
    """Alert state next to the live windows it is read from, and its deliveries (spec §10, docs/alerts.md)."""
    states = AlertStates(
        app,
        settings.kafka_topic_partitions,
        lambda: owned_partitions(app, settings.kafka_topic),
        durability_configs(settings),
    )
    deliverer = Deliverer(settings, rules, states)
    app.add_dependency(deliverer)
    return AlertEngine(rules, live, states, deliverer)


def create_app(settings: Settings) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level of datadir
    guarded = security(settings)
    middlewares = [count_responses, *guarded.middlewares()]
    app = WorkerApp(settings.kafka_consumer_group, **faust_options(settings, middlewares))
    app.shutdown = shutdown = Shutdown(settings.shutdown_timeout_seconds)
    consumer.install(app, settings.kafka_seek_delay_seconds)
    recovery.install(app, client_options(settings))
    app.add_dependency(guarded.keys)
    alert_rules = RuleStore(settings)
    app.add_dependency(alert_rules)
    events_topic = app.topic(
        settings.kafka_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.kafka_topic_partitions,
        replicas=settings.replication_factor,
        config=retained_configs(settings, settings.kafka_events_retention_hours),
    )
    dead_letter_topic = app.topic(
        settings.dlq_topic,
        partitions=settings.kafka_topic_partitions,
        replicas=settings.replication_factor,
        config=retained_configs(settings, settings.kafka_dlq_retention_hours),
    )

    storage = Storage(settings)
    publisher = EventPublisher(
        settings,
        on_replaced=(
            metrics.PRODUCER_REPLACED if settings.takes_ingest else metrics.DEAD_LETTER_PRODUCER_REPLACED
        ).inc,
    )
    app.add_dependency(publisher)
    stats = SinkStats()
    writer = EventWriter(storage.clickhouse, on_retry=stats.note_insert_retry, cutoff=shutdown.cutoff)
    dead_letters = DeadLetters(
        publisher,
        storage.clickhouse,
        settings.kafka_topic,
        writer.backoff,
        on_retry=stats.note_retry,
        cutoff=shutdown.cutoff,
    )
    window = TimeWindow(settings.retention_days)
    live = None
    if settings.live_tables_enabled:
        live = LiveWindows(
            app,
            settings.live_window_seconds,
            settings.live_retention_seconds,
            settings.kafka_topic_partitions,
            durability_configs(settings),
        )
        live_views.register(app, live)
    sink = ClickHouseSink(
        writer, dead_letters, live, window, settings.batch_size, settings.flush_interval_seconds, stats
    )
    watchdog = SinkWatchdog(
        settings.sink_stall_seconds,
        last_batch=lambda: stats.last_batch_at,
        describe=lambda: consumer.consumer_state(app, settings.kafka_topic),
    )
    healer = Healer(
        settings.sink_stall_seconds,
        stats,
        ConsumerRemedies(app, settings.kafka_topic),
        reorganizing=lambda: app.rebalancing or app.in_recovery,
    )

    async def open_storage() -> None:
        """Connect and migrate, waiting for ClickHouse as long as it takes (health reads degraded meanwhile)."""
        await retry_forever(storage.ready, "opening ClickHouse", writer.backoff)

    @app.agent(events_topic, name="clickhouse-sink")
    async def clickhouse_sink(stream: StreamT) -> None:
        await open_storage()
        await sink.run(cast(WeightedStream, stream))  # the app's Stream setting

    @app.task
    async def prepare() -> None:
        """Create the topics and migrate at start, so that analytics answer at once.

        Not `internal=True`, which would make Faust declare them again on every rebalance. The consumer sees a
        topic created here within its metadata max age.
        """
        for topic in (events_topic, dead_letter_topic):
            await topic.declare()  # waits for the broker (ResilientTopic)
        await open_storage()

    if live is not None:

        @app.timer(interval=EXPIRY_INTERVAL_SECONDS)
        async def expire_live_windows() -> None:
            await live.expire(set(consumer.assigned_partitions(app, settings.kafka_topic)))

        alerts = wire_alerts(app, settings, alert_rules, live)

        @app.timer(interval=settings.alert_evaluation_interval_seconds)
        async def evaluate_alerts() -> None:
            await alerts.tick()

    else:
        logging.getLogger(__name__).warning("LIVE_TABLES_ENABLED=false: alert rules are not evaluated")

    @app.timer(interval=max(1.0, min(LAG_INTERVAL_SECONDS, settings.sink_stall_seconds / 2)))
    async def watch_consumer_lag() -> None:
        """Export the lag, let the watchdog judge whether a partition is stalled, and the healer act on it."""
        positions = await consumer.partition_positions(app, settings.kafka_topic)
        if positions:
            metrics.CONSUMER_LAG.set(sum(consumer.lag_of(*position) for position in positions.values()))
        await healer.observe(watchdog.observe(positions))

    if settings.takes_ingest:
        events = ingest.Ingest(publisher, window, guarded.device_ids)
        mount(app, ingest.routes(events) + compat.routes(events))
    mount(app, admin.routes(guarded.keys))
    mount(app, alerts_admin.routes(alert_rules, settings))
    analytics.register(app, storage.ready, guarded.device_ids)
    export.register(app, storage)
    health.register(app, storage, publisher, guarded.keys, stats, settings.kafka_topic, live, watchdog)
    openapi.register(app, live.max_last if live is not None else None, settings.auth_required)
    mount(app, dashboard.routes())
    monitor = install_prometheus_monitor(app)
    mount(app, prometheus.routes(monitor, with_ingest=settings.takes_ingest))

    @app.timer(interval=METRICS_FLUSH_SECONDS)
    async def flush_faust_metrics() -> None:
        monitor.flush()

    return app


app = create_app(load_settings())
