"""The Faust app: wires settings, the ingest producer, the ClickHouse sink agent and the HTTP routes.

Importing this module builds nothing. `ota-stream worker` builds the app with `build` (and the socket its ingest
processes reach it on); `faust -A ota_stream.app worker` builds it from the environment when Faust reads the
module's `app`.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
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
from ota_stream.config import Settings, WorkerRole, load_settings
from ota_stream.guards import decisions
from ota_stream.guards.engine import GuardEngine
from ota_stream.guards.rules import GuardStore
from ota_stream.kafka import consumer, recovery
from ota_stream.kafka.faust_web import mount
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
from ota_stream.storage.client import ClickHouseConfig
from ota_stream.storage.service import ClickHouseService
from ota_stream.storage.writer import EventWriter
from ota_stream.tables.live import LiveWindows
from ota_stream.tables.store import store_options
from ota_stream.web import (
    admin,
    alerts_admin,
    analytics,
    compat,
    dashboard,
    export,
    guards_admin,
    health,
    ingest,
    openapi,
    prometheus,
)
from ota_stream.web import live as live_views
from ota_stream.web.http_metrics import count_responses
from ota_stream.web.security import security, server_options

EXPIRY_INTERVAL_SECONDS = 10.0
LAG_INTERVAL_SECONDS = 5.0
METRICS_FLUSH_SECONDS = 5.0


def faust_options(
    settings: Settings, middlewares: list[Any], worker_socket: Path | None = None
) -> dict[str, Any]:
    """`worker_socket`: where the web server listens when ingest processes in front take SERVER_PORT (roles.py)."""
    kafka = settings.kafka
    options: dict[str, Any] = {
        "broker": settings.kafka.faust_url,
        "datadir": str(settings.pipeline.data_dir / "faust"),
        "web_bind": settings.http.server_host,
        "web_port": settings.http.server_port,
        "canonical_url": settings.http.canonical_url,
        "store": "rocksdb://",
        "web_application_options": {
            "middlewares": middlewares,
            "client_max_size": ingest.BATCH_LIMIT + 1,
            "handler_args": server_options(settings.http, facing_clients=worker_socket is None),
        },
        "topic_partitions": kafka.topic_partitions,
        "topic_replication_factor": kafka.replicas,  # changelog and leader topics
        "consumer_auto_offset_reset": "earliest",
        # Faust creates the events topic while the group may already be joining; a short metadata age lets the
        # consumer see the new topic (and new partitions) within seconds instead of five minutes.
        "consumer_metadata_max_age_ms": 5000,
        "broker_commit_interval": kafka.commit_interval_seconds,
        "broker_session_timeout": kafka.session_timeout_seconds,
        "broker_heartbeat_interval": max(1.0, kafka.session_timeout_seconds / 4),
        "broker_rebalance_timeout": kafka.session_timeout_seconds * 2,
        "producer_acks": -1,
        "autodiscover": False,
        "Topic": ResilientTopic,
        "Stream": WeightedStream,
        "TableManager": OrderedTableManager,
        "logging_config": logging_config(settings.logs.level.value),
    }
    if worker_socket is not None:
        options["web_transport"] = f"unix://{worker_socket}"
    credentials = faust_credentials(kafka)
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


def table_store(settings: Settings) -> dict[str, Any]:
    """The RocksDB options of the worker's tables (LIVE_ROCKSDB_*)."""
    return store_options(settings.live.rocksdb_block_cache_mib, settings.live.rocksdb_write_buffer_mib)


def owned_states(app: faust.App, settings: Settings, **table: str) -> AlertStates:
    """A changelogged state table on the partitions of the events topic (alert state, guard decisions)."""
    kafka = settings.kafka
    owned = partial(owned_partitions, app, kafka.topic)
    return AlertStates(
        app, kafka.topic_partitions, owned, durability_configs(kafka), store=table_store(settings), **table
    )


def wire_alerts(app: faust.App, settings: Settings, rules: RuleStore, live: LiveWindows) -> AlertEngine:
    """Alert state next to the live windows it is read from, and its deliveries (docs/alerts.md)."""
    states = owned_states(app, settings)
    deliverer = Deliverer(settings.alerts, states, rules.target, metrics.ALERT_DELIVERIES)
    app.add_dependency(deliverer)
    return AlertEngine(rules, live, states, deliverer)


def wire_guards(
    app: faust.App, settings: Settings, guards: GuardStore, storage: ClickHouseService
) -> GuardEngine:
    """Guard decisions in a table of their own, delivered as alert notifications are (docs/decisions.md)."""
    states = owned_states(app, settings, name=decisions.TABLE_NAME, description=decisions.DESCRIPTION)
    deliverer = Deliverer(
        settings.alerts, states, guards.target, metrics.GUARD_DELIVERIES, what="guard decision"
    )
    app.add_dependency(deliverer)
    return GuardEngine(guards, states, deliverer, storage.ready, settings.kafka.topic_partitions)


def create_app(settings: Settings, worker_socket: Path | None = None) -> faust.App:
    """The worker's app; `worker_socket`: where it serves HTTP when ingest processes front it (else SERVER_PORT,
    ingest included unless WORKER_ROLE=process)."""
    kafka, pipeline = settings.kafka, settings.pipeline
    pipeline.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level of datadir
    takes_ingest = settings.http.worker_role is WorkerRole.ALL and worker_socket is None
    guarded = security(settings.auth, kafka, settings.http)
    middlewares = [count_responses, *guarded.middlewares()]
    app = WorkerApp(kafka.consumer_group, **faust_options(settings, middlewares, worker_socket))
    app.shutdown = shutdown = Shutdown(pipeline.shutdown_timeout_seconds)
    consumer.install(app)
    recovery.install(app, client_options(kafka))
    app.add_dependency(guarded.keys)
    alert_rules = RuleStore(kafka)
    app.add_dependency(alert_rules)
    guards = GuardStore(kafka)
    app.add_dependency(guards)
    events_topic = app.topic(
        kafka.topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=kafka.topic_partitions,
        replicas=kafka.replicas,
        config=retained_configs(kafka, kafka.events_retention_hours),
    )
    dead_letter_topic = app.topic(
        kafka.dead_letter_topic,
        partitions=kafka.topic_partitions,
        replicas=kafka.replicas,
        config=retained_configs(kafka, kafka.dlq_retention_hours),
    )

    storage = ClickHouseService(
        ClickHouseConfig.from_settings(settings.clickhouse, pipeline.data_dir), pipeline.retention_days
    )
    publisher = EventPublisher(
        kafka,
        on_replaced=(
            metrics.PRODUCER_REPLACED if takes_ingest else metrics.DEAD_LETTER_PRODUCER_REPLACED
        ).inc,
    )
    app.add_dependency(publisher)
    stats = SinkStats()
    writer = EventWriter(storage.clickhouse, on_retry=stats.note_insert_retry, cutoff=shutdown.cutoff)
    dead_letters = DeadLetters(
        publisher,
        storage.clickhouse,
        kafka.topic,
        writer.backoff,
        on_retry=stats.note_retry,
        cutoff=shutdown.cutoff,
    )
    window = TimeWindow(pipeline.retention_days)
    live = None
    if settings.live.tables_enabled:
        live = LiveWindows(
            app,
            settings.live.window_seconds,
            settings.live.retention_seconds,
            kafka.topic_partitions,
            durability_configs(kafka),
            table_store(settings),
        )
        mount(app, live_views.live_routes(app, live))
    sink = ClickHouseSink(
        writer, dead_letters, live, window, pipeline.batch_size, pipeline.flush_interval_seconds, stats
    )
    watchdog = SinkWatchdog(
        pipeline.sink_stall_seconds,
        last_batch=lambda: stats.last_batch_at,
        describe=lambda: consumer.consumer_state(app, kafka.topic),
    )
    healer = Healer(
        pipeline.sink_stall_seconds,
        stats,
        ConsumerRemedies(app, kafka.topic),
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
            await live.expire(set(consumer.assigned_partitions(app, kafka.topic)))

        alerts = wire_alerts(app, settings, alert_rules, live)

        @app.timer(interval=settings.alerts.evaluation_interval_seconds)
        async def evaluate_alerts() -> None:
            await alerts.tick()

    else:
        logging.getLogger(__name__).warning("LIVE_TABLES_ENABLED=false: alert rules are not evaluated")

    guard_engine = wire_guards(app, settings, guards, storage)

    @app.timer(interval=settings.alerts.guard_evaluation_interval_seconds)
    async def evaluate_guards() -> None:
        await guard_engine.tick()

    @app.timer(interval=max(1.0, min(LAG_INTERVAL_SECONDS, pipeline.sink_stall_seconds / 2)))
    async def watch_consumer_lag() -> None:
        """Export the lag, let the watchdog judge whether a partition is stalled, and the healer act on it."""
        positions = await consumer.partition_positions(app, kafka.topic)
        if positions:
            metrics.CONSUMER_LAG.set(sum(consumer.lag_of(*position) for position in positions.values()))
        await healer.observe(watchdog.observe(positions))

    if takes_ingest:
        events = ingest.Ingest(publisher, window, guarded.device_ids)
        mount(app, ingest.routes(events) + compat.routes(events))
    mount(app, admin.routes(guarded.keys))
    mount(app, alerts_admin.routes(alert_rules, settings.live, settings.alerts))
    mount(app, guards_admin.routes(app, guards, guard_engine.states, settings.alerts))
    mount(app, analytics.routes(storage.ready, guarded.device_ids))
    mount(app, [export.route(storage, pipeline.export_max_rows)])
    mount(app, [health.route(app, storage, publisher, guarded.keys, stats, kafka.topic, live, watchdog)])
    mount(app, [openapi.route(live.max_last if live is not None else None, settings.auth.auth_required)])
    mount(app, dashboard.routes())
    monitor = install_prometheus_monitor(app)
    mount(app, prometheus.routes(monitor, with_ingest=takes_ingest))

    @app.timer(interval=METRICS_FLUSH_SECONDS)
    async def flush_faust_metrics() -> None:
        monitor.flush()

    return app


_built: list[faust.App] = []  # the one app of this process, once built


def build(settings: Settings | None = None, worker_socket: Path | None = None) -> faust.App:
    """The worker's app, built on the first call (from the environment unless `settings` are given)."""
    if not _built:
        _built.append(create_app(settings or load_settings(), worker_socket))
    return _built[0]


def __getattr__(name: str) -> Any:
    """`app`, built on first access: what `faust -A ota_stream.app` reads."""
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
