"""`GET /live/{tenant_id}/{org_id}/{app_id}/windows?last=N` and `/now` (docs/api.md#live-windows).

Faust's router forwards a request to the worker that owns the app's partition (kafka/routing.py), so any worker
answers for any app. The app's key, `tenant/org/app`, is also its Kafka key.
"""

from __future__ import annotations

from aiohttp import web
from faust import App

from ota_stream.kafka.routing import on_owner
from ota_stream.tables.live import LiveWindows
from ota_stream.web import routes
from ota_stream.web.declare import bind, given
from ota_stream.web.errors import json_response


def app_key(ids: routes.LiveIds) -> str:
    return f"{ids.tenant_id}/{ids.org_id}/{ids.app_id}"


def live_routes(app: App, live: LiveWindows) -> list[web.RouteDef]:
    windows_route = routes.LIVE_WINDOWS.with_params(routes.live_windows_query(live.max_last))

    async def windows(request: web.Request) -> web.StreamResponse:
        query = given(request, routes.LiveWindowsQuery)
        key = app_key(query)

        async def answer() -> web.Response:
            windows = live.recent(key, query.last)
            return json_response({"data": {"window_seconds": live.size, "windows": windows}})

        return await on_owner(app, live.table, key, request, answer)

    async def now(request: web.Request) -> web.StreamResponse:
        key = app_key(given(request, routes.LiveIds))

        async def answer() -> web.Response:
            return json_response({"data": {"window_seconds": live.size, "window": live.current(key)}})

        return await on_owner(app, live.table, key, request, answer)

    return [bind(windows_route, windows), bind(routes.LIVE_NOW, now)]
