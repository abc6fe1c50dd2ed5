"""`GET /metrics` of the stream-processing worker: Faust's sensor and our metrics, plus ingest's when this worker
takes ingest itself (metrics.py: ingest metrics have a registry of their own)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ota_stream import metrics
from ota_stream.kafka.sensors import BatchedPrometheusMonitor
from ota_stream.web.declare import bind
from ota_stream.web.routes import METRICS


def routes(monitor: BatchedPrometheusMonitor, with_ingest: bool) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        monitor.flush()
        body = generate_latest(REGISTRY)
        if with_ingest:
            body += generate_latest(metrics.INGEST)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [bind(METRICS, page)]
