"""The Faust app: wires settings, the ingest producer, the ClickHouse sink agent and the HTTP views.

Run it with `faust -A ota_stream.app worker` or `ota-stream worker`.
"""

from __future__ import annotations

from typing import Any, cast

import faust
from faust import Stream
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import StreamT

from ota_stream import metrics
from ota_stream.agents import recovery_order, safe_acks
from ota_stream.agents.sink import ClickHouseSink
from ota_stream.agents.watchdog import SinkWatchdog, consumer_state
from ota_stream.config import Settings, load_settings
from ota_stream.logs import logging_config
from ota_stream.models import TimeWindow
from ota_stream.publisher import EventPublisher
from ota_stream.retry import retry_forever
from ota_stream.storage.service import Storage
from ota_stream.storage.writer import EventWriter
from ota_stream.tables.live import LiveWindows
from ota_stream.topics import ResilientTopic
from ota_stream.web import analytics, health, ingest, openapi
from ota_stream.web import live as live_views
from ota_stream.web.errors import error_middleware

EXPIRY_INTERVAL_SECONDS = 10.0
LAG_INTERVAL_SECONDS = 5.0


def faust_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "broker": settings.kafka_url,
        "datadir": str(settings.data_dir / "faust"),
        "web_bind": settings.server_host,
        "web_port": settings.server_port,
        "canonical_url": settings.canonical_url,
        "store": "rocksdb://",
        "web_application_options": {"middlewares": [error_middleware]},
        "topic_partitions": settings.kafka_topic_partitions,
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
        "logging_config": logging_config(settings.log_level.value),
    }
    if settings.kafka_sasl_mechanisms:
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        options["broker_credentials"] = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanisms.value,
        )
    return options


def create_app(settings: Settings) -> faust.App:
    safe_acks.install(settings.kafka_topic, settings.kafka_seek_delay_seconds)
    recovery_order.install()
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level of datadir
    app = faust.App(settings.kafka_consumer_group, **faust_options(settings))
    events_topic = app.topic(
        settings.kafka_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.kafka_topic_partitions,
    )
    dead_letters = app.topic(settings.dlq_topic, partitions=settings.kafka_topic_partitions)

    storage = Storage(settings)
    publisher = EventPublisher(settings)
    app.add_dependency(publisher)
    writer = EventWriter(storage.clickhouse, on_retry=lambda exc, attempt: metrics.INSERT_RETRIES.inc())
    live = None
    if settings.live_tables_enabled:
        live = LiveWindows(
            app,
            settings.live_window_seconds,
            settings.live_retention_seconds,
            settings.kafka_topic_partitions,
        )
        live_views.register(app, live)
    sink = ClickHouseSink(writer, publisher, live, settings.batch_size, settings.flush_interval_seconds)
    watchdog = SinkWatchdog(
        settings.sink_stall_seconds, describe=lambda: consumer_state(app, settings.kafka_topic)
    )

    async def open_storage() -> None:
        """Connect and migrate, waiting for ClickHouse as long as it takes (health reads degraded meanwhile)."""
        await retry_forever(storage.ready, "opening ClickHouse", writer.backoff)

    @app.agent(events_topic, name="clickhouse-sink")
    async def clickhouse_sink(stream: StreamT) -> None:
        await open_storage()
        await sink.run(cast(Stream, stream))  # the concrete stream has take_events

    @app.task
    async def prepare() -> None:
        """Create the topics and migrate at start, so that analytics answer at once.

        Not `internal=True`, which would make Faust declare them again on every rebalance. The consumer sees a
        topic created here within its metadata max age.
        """
        for topic in (events_topic, dead_letters):
            await topic.declare()  # waits for the broker (ResilientTopic)
        await open_storage()

    if live is not None:

        @app.timer(interval=EXPIRY_INTERVAL_SECONDS)
        async def expire_live_windows() -> None:
            await live.expire(set(health.assigned_partitions(app, settings.kafka_topic)))

    @app.timer(interval=max(1.0, min(LAG_INTERVAL_SECONDS, settings.sink_stall_seconds / 2)))
    async def watch_consumer_lag() -> None:
        """Export the lag, and let the watchdog judge whether the sink is stalled."""
        lag = await health.consumer_lag(app, settings.kafka_topic)
        if lag is not None:
            metrics.CONSUMER_LAG.set(lag)
        watchdog.observe(lag, health.assigned_partitions(app, settings.kafka_topic))

    ingest.register(app, ingest.Ingest(publisher, TimeWindow(settings.retention_days)))
    analytics.register(app, storage.ready)
    health.register(app, storage, publisher, sink.stats, settings.kafka_topic, live, watchdog)
    openapi.register(app)
    setup_prometheus_sensors(app, pattern="/metrics", name_prefix="faust")
    return app


app = create_app(load_settings())
