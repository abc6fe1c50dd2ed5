"""`GET /health` (spec §5): ClickHouse round trip, Kafka producer and consumer lag, pipeline rate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from faust import App
from faust.web import View

from ota_stream import metrics
from ota_stream.agents.sink import SinkStats
from ota_stream.agents.watchdog import SinkWatchdog
from ota_stream.models import format_timestamp
from ota_stream.publisher import EventPublisher
from ota_stream.storage.service import Storage
from ota_stream.tables.live import LiveWindows
from ota_stream.web.errors import json_response

PING_TIMEOUT_SECONDS = 2.0


def assigned_partitions(app: App, topic: str) -> list[int]:
    """The partitions of `topic` this worker consumes now (empty before the first assignment)."""
    try:
        return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
    except Exception:
        return []


async def consumer_lag(app: App, topic: str) -> int | None:
    """Messages of `topic` on this worker's partitions that are not yet committed; None before assignment.

    End offsets are asked of the broker: the consumer's cached high-water marks can be stale, or zero, right
    after an assignment, which made a restarted worker look drained before it had read anything.
    """
    consumer = app.consumer
    try:
        assigned = [tp for tp in consumer.assignment() if tp.topic == topic]
        if not assigned:
            return None
        ends = await consumer.highwaters(*assigned)
    except Exception:
        return None
    lag = 0
    for tp in assigned:  # faust keeps committed offsets in a private map, with no accessor
        committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]
        end = ends.get(tp)
        if end is None:
            return None
        lag += max(0, end - (committed + 1 if committed is not None else 0))
    return lag


async def _clickhouse_status(storage: Storage) -> dict[str, Any]:
    try:
        ch = await asyncio.wait_for(storage.ready(), PING_TIMEOUT_SECONDS)
        elapsed = await asyncio.wait_for(ch.ping(), PING_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"status": "unhealthy", "response_time_ms": None, "error": type(exc).__name__}
    return {"status": "healthy", "response_time_ms": round(elapsed, 2)}


def register(
    app: App,
    storage: Storage,
    publisher: EventPublisher,
    stats: SinkStats,
    topic: str,
    live: LiveWindows | None,
    watchdog: SinkWatchdog,
) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: web.Request) -> web.Response:
            clickhouse = await _clickhouse_status(storage)
            lag = await consumer_lag(app, topic)
            if lag is not None:
                metrics.CONSUMER_LAG.set(lag)
            kafka_ok = publisher.ready
            kafka = {
                "status": "healthy" if kafka_ok else "unhealthy",
                "producer_ready": kafka_ok,
                "consumer_lag": lag,
                "assigned_partitions": assigned_partitions(app, topic),
            }
            failing = [clickhouse["status"] != "healthy", not kafka_ok].count(True)
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
                    "live_windows_stored": live.stored() if live is not None else None,
                },
            }
            return json_response(body, 503 if status == "unhealthy" else 200)
