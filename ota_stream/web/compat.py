"""The real clients' routes (docs/clients.md): each reads its client's body, maps it (ota_stream/compat/), and hands the
events to the same validation and publisher as `POST /events/batch` (web/ingest.py `Ingest`); the answer is shaped
as the client's own server answers, so that an unmodified client sees success.

Every route also exists under `/c/{ingest_key}/…` for clients that can only be given a base URL (web/auth.py reads
the key there). What the client has no notion of (tenant, often org and app) comes from the key, or, without one,
from `?tenant_id=&org_id=&app_id=`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ota_stream import metrics, wire
from ota_stream.compat import (
    AIRBORNE,
    CAPGO,
    CODEPUSH_DEPLOY,
    CODEPUSH_DOWNLOAD,
    HOT_UPDATER,
    airborne,
    capgo,
    codepush,
    hot_updater,
)
from ota_stream.compat.base import Draft
from ota_stream.models import FieldError, InvalidEvent, format_timestamp
from ota_stream.web.auth import Grant
from ota_stream.web.body import decode_json, read_limited, require_content_type
from ota_stream.web.declare import bind
from ota_stream.web.errors import ApiError, json_response
from ota_stream.web.ingest import (
    BATCH_LIMIT,
    JSON,
    MAX_BATCH_EVENTS,
    SINGLE_LIMIT,
    Ingest,
    OutsideKey,
    counting_rejections,
    rejection,
)
from ota_stream.web.routes_clients import CLIENTS

SCOPE_FIELDS = ("tenant_id", "org_id", "app_id")
MISSING_SCOPE = (
    "is required: this client does not send it; use an ingest key narrowed to it (/c/{ingest_key}/…) "
    "or add ?%s= to the URL"
)

Mapper = Callable[[Any, datetime], Draft | list[Draft]]  # one report may mean several events


class Compat:
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def _body(self, request: web.Request, limit: int = SINGLE_LIMIT) -> Any:
        require_content_type(request, JSON)
        return decode_json(await read_limited(request, limit))

    def _accept(self, request: web.Request, draft: Draft, bounds: tuple[datetime, datetime]) -> wire.Accepted:
        """One mapped event through ingest's validation; InvalidEvent names the client's fields."""
        grant: Grant | None = request.get("grant")
        event = draft.build()
        if grant is not None:
            grant.fill(event)
        for name in SCOPE_FIELDS:
            if name in request.query and name not in event:
                event[name] = request.query[name]
        try:
            return self.ingest.accept(event, bounds, grant)
        except InvalidEvent as exc:
            raise InvalidEvent([_named(draft, error) for error in exc.errors]) from None

    async def _one(
        self, request: web.Request, mapper: Mapper, received: datetime | None = None
    ) -> wire.Accepted:
        """One report: its event (and any it implies), all accepted or none; returns the report's own event."""
        body = await self._body(request)
        received = received or datetime.now(UTC)
        bounds = self.ingest.window.bounds(received)
        try:
            mapped = mapper(body, received)
            drafts = [mapped] if isinstance(mapped, Draft) else mapped
            accepted = [self._accept(request, draft, bounds) for draft in drafts]
        except InvalidEvent as exc:
            raise ApiError(exc.status, "the event is invalid", exc.errors) from None
        except OutsideKey as exc:
            raise ApiError(403, str(exc), code="forbidden") from None
        await self.ingest.publish(accepted, request.get("grant"))
        return accepted[0]

    async def airborne(self, request: web.Request) -> web.Response:
        received = datetime.now(UTC)  # the event's time when it has none, and the answer's, as events.rs does
        accepted = await self._one(request, airborne.to_event, received)
        body = {
            "status": "success",
            "message": airborne.ANSWER_MESSAGE,
            "event_id": accepted.event_id,
            "timestamp": format_timestamp(received),
        }
        return json_response(body)

    async def codepush_deploy(self, request: web.Request) -> web.Response:
        await self._one(request, codepush.deploy)
        return web.Response(text="OK")  # express's res.sendStatus(200)

    async def codepush_download(self, request: web.Request) -> web.Response:
        await self._one(request, codepush.download)
        return web.Response(text="OK")

    async def hot_updater(self, request: web.Request) -> web.Response:
        await self._one(request, hot_updater.to_events)
        return web.Response(status=204)

    async def capgo(self, request: web.Request) -> web.Response:
        """An object or an array: valid items are accepted and invalid ones listed, as /events/batch does."""
        body = await self._body(request, BATCH_LIMIT)
        if isinstance(body, list) and not body:
            raise ApiError(422, "the stats array is empty", [FieldError("$", "empty array")])
        if isinstance(body, list) and len(body) > MAX_BATCH_EVENTS:
            raise ApiError(413, f"at most {MAX_BATCH_EVENTS} stats per request, got {len(body)}")
        received = datetime.now(UTC)
        bounds = self.ingest.window.bounds(received)
        accepted: list[wire.Accepted] = []
        rejected: list[dict[str, Any]] = []
        for index, draft in enumerate(capgo.to_events(body, received)):
            try:
                if isinstance(draft, Exception):
                    raise draft
                accepted.append(self._accept(request, draft, bounds))
            except (InvalidEvent, OutsideKey) as exc:
                rejected.append(rejection(index, exc))
        if not accepted:
            _refuse(rejected, many=isinstance(body, list))
        if rejected:
            metrics.INGEST_REJECTED.labels("validation").inc(len(rejected))
        await self.ingest.publish(accepted, request.get("grant"))
        return json_response({**capgo.ANSWER, **({"rejected": rejected} if rejected else {})})


def _refuse(rejected: list[dict[str, Any]], many: bool) -> None:
    """Nothing accepted: the error shape, naming each item's fields (prefixed by its index in an array)."""
    forbidden = [r for r in rejected if r["code"] == "forbidden"]
    if forbidden and len(forbidden) == len(rejected):
        raise ApiError(403, forbidden[0]["errors"][0]["message"], code="forbidden")
    details = [
        FieldError(f"[{r['index']}].{e['field']}" if many else e["field"], e["message"])
        for r in rejected
        for e in r["errors"]
    ]
    raise ApiError(422, "no stats object is valid", details)


def _named(draft: Draft, error: FieldError) -> FieldError:
    if error.field in SCOPE_FIELDS and error.message == "is required" and error.field not in draft.origin:
        return FieldError(error.field, MISSING_SCOPE % error.field)
    return draft.client_field(error)


def routes(ingest: Ingest) -> list[web.RouteDef]:
    """Each client's routes, at the root and under /c/{ingest_key}."""
    compat = Compat(ingest)
    handlers: dict[str, Handler] = {
        AIRBORNE: compat.airborne,
        CAPGO: compat.capgo,
        HOT_UPDATER: compat.hot_updater,
        **{path: compat.codepush_deploy for path in CODEPUSH_DEPLOY},
        **{path: compat.codepush_download for path in CODEPUSH_DOWNLOAD},
    }
    return [
        bind(route, counting_rejections(handler))
        for path, handler in handlers.items()
        for route in CLIENTS[path]
    ]
