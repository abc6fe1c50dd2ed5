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
from ota_stream.storage.queries.active_devices import active_devices
from ota_stream.storage.queries.adoption import adoption
from ota_stream.storage.queries.failures import GROUP_BY, failures
from ota_stream.storage.queries.performance import performance
from ota_stream.storage.queries.versions import SEGMENTS, versions
from ota_stream.web import params
from ota_stream.web.errors import json_response

Query = Callable[[ClickHouse, web.Request], Awaitable[Any]]


async def _adoption(ch: ClickHouse, request: web.Request) -> Any:
    scope = params.scope(request.query, extra={"target_version"})
    return await adoption(ch, scope, params.text(request.query, "target_version"))


async def _versions(ch: ClickHouse, request: web.Request) -> Any:
    scope = params.scope(request.query, extra={"segment"})
    return await versions(ch, scope, params.choice(request.query, "segment", SEGMENTS, None))


async def _active_devices(ch: ClickHouse, request: web.Request) -> Any:
    return await active_devices(ch, params.scope(request.query))


async def _failures(ch: ClickHouse, request: web.Request) -> Any:
    scope = params.scope(request.query, extra={"group_by"})
    group_by = params.choice(request.query, "group_by", GROUP_BY, "error_code")
    assert group_by is not None
    return await failures(ch, scope, group_by)


async def _performance(ch: ClickHouse, request: web.Request) -> Any:
    return await performance(ch, params.scope(request.query))


ROUTES: dict[str, Query] = {
    "adoption": _adoption,
    "versions": _versions,
    "active-devices": _active_devices,
    "failures": _failures,
    "performance": _performance,
}


def register(app: App, storage: Callable[[], Awaitable[ClickHouse]]) -> None:
    """One GET view per analytics endpoint, each timed into ota_query_latency_seconds."""
    for name, query in ROUTES.items():
        _register_one(app, storage, name, query)


def _register_one(app: App, storage: Callable[[], Awaitable[ClickHouse]], name: str, query: Query) -> None:
    latency = metrics.QUERY_LATENCY.labels(name)  # created now, so every endpoint is exported from the start

    @app.page(f"/analytics/{name}", name=f"analytics_{name.replace('-', '_')}")
    class Analytics(View):
        async def get(self, request: web.Request) -> web.Response:
            started = time.perf_counter()
            try:
                data = await query(await storage(), request)
            finally:
                latency.observe(time.perf_counter() - started)
            return json_response({"data": data})
