"""`GET /live/{tenant_id}/{org_id}/{app_id}/windows?last=N` and `/now` (docs/api.md#live-windows).

Faust's `table_route` forwards a request to the worker that owns the app's partition, so any worker answers for
any app. The app key travels as one path segment group, `tenant/org/app`, which is also the Kafka key.
"""

from __future__ import annotations

from aiohttp import web
from faust import App
from faust.web import View

from ota_stream.kafka.routing import on_owner
from ota_stream.models import ID_CHARS, ID_MAX
from ota_stream.tables.live import LiveWindows
from ota_stream.web.errors import invalid, json_response
from ota_stream.web.params import is_whole, only_known

ONE_ID = f"{ID_CHARS}{{1,{ID_MAX}}}"
KEY = f"{{key:{ONE_ID}/{ONE_ID}/{ONE_ID}}}"  # an aiohttp pattern: tenant/org/app
DEFAULT_LAST = 10


def _last(request: web.Request, most: int) -> int:
    only_known(request.query, ("last",))
    raw = request.query.get("last", str(DEFAULT_LAST))
    if not is_whole(raw) or not 1 <= int(raw) <= most:
        raise invalid("last", f"must be a whole number from 1 to {most}")
    return int(raw)


def register(app: App, live: LiveWindows) -> None:
    most = live.max_last

    @app.page(f"/live/{KEY}/windows", name="live_windows")
    class Windows(View):
        async def get(self, request: web.Request, key: str) -> web.StreamResponse:
            async def answer() -> web.Response:
                last = _last(request, most)
                return json_response(
                    {"data": {"window_seconds": live.size, "windows": live.recent(key, last)}}
                )

            return await on_owner(app, live.table, key, request, answer)

    @app.page(f"/live/{KEY}/now", name="live_now")
    class Now(View):
        async def get(self, request: web.Request, key: str) -> web.StreamResponse:
            async def answer() -> web.Response:
                only_known(request.query, ())
                return json_response({"data": {"window_seconds": live.size, "window": live.current(key)}})

            return await on_owner(app, live.table, key, request, answer)
