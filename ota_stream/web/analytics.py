"""`GET /analytics/*` (spec §3): parse the scope, run the query, answer `{"data": ...}`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from faust import App
from faust.web import View

from ota_stream import metrics
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.adoption import adoption
from ota_stream.web import params
from ota_stream.web.errors import json_response

Query = Callable[[ClickHouse, web.Request], Awaitable[Any]]


async def _adoption(ch: ClickHouse, request: web.Request) -> Any:
    scope = params.scope(request.query, extra={"target_version"})
    return await adoption(ch, scope, params.text(request.query, "target_version"))


ROUTES: dict[str, Query] = {
    "adoption": _adoption,
}


def register(app: App, storage: Callable[[], Awaitable[ClickHouse]]) -> None:
    """One GET view per analytics endpoint, each timed into ota_query_latency_seconds."""
    for name, query in ROUTES.items():
        _register_one(app, storage, name, query)


def _register_one(app: App, storage: Callable[[], Awaitable[ClickHouse]], name: str, query: Query) -> None:
    latency = metrics.QUERY_LATENCY.labels(name)

    @app.page(f"/analytics/{name}", name=f"analytics_{name}")
    class Analytics(View):
        async def get(self, request: web.Request) -> web.Response:
            started = time.perf_counter()
            try:
                data = await query(await storage(), request)
            finally:
                latency.observe(time.perf_counter() - started)
            return json_response({"data": data})
