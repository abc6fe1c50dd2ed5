"""Ingest processes: POST /events in processes of their own, sharing the worker's port.

One Python process serves HTTP on one core. A worker that also streams events into ClickHouse has less than that
for ingest, so `ota-stream worker` puts INGEST_PROCESSES of these in front of its stream processing: they bind
SERVER_PORT with `reuse_port` (the kernel spreads connections over them), validate and publish events with their
own producer, and pass every other request on to the worker's web server over a unix socket (web/forward.py).
`ota-stream ingest` runs them alone, for deployments where ingest scales apart from stream processing; there
they answer only ingest, /health (their producer) and /metrics.

Ingest metrics of several processes are joined through prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set by roles.py), so that any process answers /metrics for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ota_stream import metrics
from ota_stream.auth.keys import KeyScope
from ota_stream.config import Settings
from ota_stream.kafka.producer import EventPublisher
from ota_stream.models import TimeWindow, format_timestamp
from ota_stream.web import compat, ingest, routes
from ota_stream.web.declare import bind
from ota_stream.web.errors import json_response
from ota_stream.web.forward import Forwarder
from ota_stream.web.readiness import kafka_readiness
from ota_stream.web.security import Security, security, server_options

log = logging.getLogger(__name__)


class _IngestFamilies(Collector):
    """Only the ingest metrics of every process: each also holds zeros of the worker's own metrics."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        return (family for family in self.inner.collect() if family.name.startswith("ota_ingest_"))


def ingest_metrics() -> bytes:
    """This process's ingest metrics, or every ingest process's when they share a multiprocess directory."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(metrics.INGEST)
    registry = CollectorRegistry()
    registry.register(_IngestFamilies(MultiProcessCollector(CollectorRegistry())))
    return generate_latest(registry)


def create_front(
    settings: Settings, publisher: EventPublisher, guarded: Security, forwarder: Forwarder | None
) -> web.Application:
    """Ingest routes guarded by keys here; every other request is passed on, and guarded by the worker."""
    app = web.Application(middlewares=guarded.middlewares(), client_max_size=ingest.BATCH_LIMIT + 1)
    window = TimeWindow(settings.pipeline.retention_days)
    events = ingest.Ingest(publisher, window, guarded.device_ids)
    app.router.add_routes(ingest.routes(events) + compat.routes(events))

    async def metrics_page(request: web.Request) -> web.Response:
        body = ingest_metrics()
        if forwarder is not None:
            _, _, worker = await forwarder.fetch(request)
            body = worker + body
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def own_kafka() -> dict[str, Any]:
        return kafka_readiness(publisher, guarded.keys)

    async def health(request: web.Request) -> web.Response:
        if forwarder is None:
            return _ingest_health(own_kafka())
        status, _, body = await forwarder.fetch(request)
        report = orjson.loads(body)
        kafka = own_kafka()
        if kafka["status"] != "healthy":  # this process's own producer and keys are what ingest depends on
            report["services"]["kafka"].update(kafka)
            report["status"] = "unhealthy" if report["status"] != "healthy" else "degraded"
        return json_response(report, 503 if report["status"] == "unhealthy" else status)

    app.router.add_routes([bind(routes.METRICS, metrics_page), bind(routes.HEALTH, health)])
    if forwarder is not None:
        app.router.add_route("*", "/{path:.*}", forwarder.handle)
    return app


def _ingest_health(kafka: dict[str, Any]) -> web.Response:
    ready = kafka["status"] == "healthy"
    body = {
        "status": kafka["status"],
        "timestamp": format_timestamp(datetime.now(UTC)),
        "role": "ingest",
        "services": {"kafka": kafka},
    }
    return json_response(body, 200 if ready else 503)


async def serve(settings: Settings, worker_socket: Path | None) -> None:
    """Serve until SIGTERM or SIGINT, then finish the requests in flight and stop the producer."""
    publisher = EventPublisher(settings.kafka)
    await publisher.start()
    guarded = security(settings.auth, settings.kafka, settings.http, enforce=frozenset({KeyScope.INGEST}))
    await guarded.keys.start()
    forwarder = Forwarder(worker_socket) if worker_socket is not None else None
    if forwarder is not None:
        await forwarder.start()
    front = create_front(settings, publisher, guarded, forwarder)
    runner = web.AppRunner(
        front,
        access_log=None,
        shutdown_timeout=settings.pipeline.shutdown_timeout_seconds,
        **server_options(settings.http),
    )
    await runner.setup()
    http = settings.http
    await web.TCPSite(runner, http.server_host, http.server_port, reuse_port=True).start()
    log.info("ingest process %d serving on %s:%d", os.getpid(), http.server_host, http.server_port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
        if forwarder is not None:
            await forwarder.stop()
        await guarded.keys.stop()
        await publisher.stop()


def main(worker_socket: Path | None) -> None:
    """Run one ingest process until SIGTERM (uvloop, JSON logs)."""
    import logging.config

    import uvloop

    from ota_stream.config import load_settings
    from ota_stream.logs import logging_config

    settings = load_settings()
    logging.config.dictConfig(logging_config(settings.logs.level.value))
    uvloop.run(serve(settings, worker_socket))


if __name__ == "__main__":  # `python -m ota_stream.web.front [worker socket]`, as roles.py starts them
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
