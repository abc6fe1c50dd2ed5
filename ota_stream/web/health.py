"""`GET /health` (docs/metrics.md): ClickHouse round trip, Kafka producer and consumer lag, pipeline rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from faust import App

from ota_stream import metrics
from ota_stream.agents.sink import SinkStats
from ota_stream.agents.watchdog import SinkWatchdog
from ota_stream.auth.store import KeyStore
from ota_stream.kafka.consumer import assigned_partitions, consumer_lag
from ota_stream.kafka.producer import EventPublisher
from ota_stream.models import format_timestamp
from ota_stream.storage.service import ClickHouseService
from ota_stream.tables.live import LiveWindows
from ota_stream.web import routes
from ota_stream.web.declare import bind
from ota_stream.web.errors import json_response
from ota_stream.web.readiness import kafka_readiness

PING_TIMEOUT_SECONDS = 2.0


async def _clickhouse_status(storage: ClickHouseService) -> dict[str, Any]:
    try:
        ch = await asyncio.wait_for(storage.ready(), PING_TIMEOUT_SECONDS)
        elapsed = await asyncio.wait_for(ch.ping(), PING_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"status": "unhealthy", "response_time_ms": None, "error": type(exc).__name__}
    return {"status": "healthy", "response_time_ms": round(elapsed, 2)}


def route(
    app: App,
    storage: ClickHouseService,
    publisher: EventPublisher,
    keys: KeyStore,
    stats: SinkStats,
    topic: str,
    live: LiveWindows | None,
    watchdog: SinkWatchdog,
) -> web.RouteDef:
    async def health(request: web.Request) -> web.Response:
        clickhouse = await _clickhouse_status(storage)
        lag = await consumer_lag(app, topic)
        if lag is not None:
            metrics.CONSUMER_LAG.set(lag)
        kafka = kafka_readiness(publisher, keys) | {
            "consumer_lag": lag,
            "assigned_partitions": assigned_partitions(app, topic),
        }
        failing = [clickhouse["status"] != "healthy", kafka["status"] != "healthy"].count(True)
        status = ("healthy", "degraded", "unhealthy")[failing]
        pipeline = watchdog.verdict
        if pipeline.stalled and status == "healthy":
            status = "degraded"  # services.pipeline.reason says why
        body = {
            "status": status,
            "timestamp": format_timestamp(datetime.now(UTC)),
            "services": {"clickhouse": clickhouse, "kafka": kafka, "pipeline": pipeline.as_json()},
            "metrics": {
                "events_processed": stats.processed,
                "events_per_second": round(stats.rate.rate(), 2),
                "duplicates_dropped": stats.duplicates,
                "dead_lettered": stats.dead_lettered,
                "refused_by_clickhouse": stats.refused,
                "live_windows_stored": live.stored() if live is not None else None,
            },
        }
        return json_response(body, 503 if status == "unhealthy" else 200)

    return bind(routes.HEALTH, health)
