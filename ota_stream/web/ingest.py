"""`POST /events` and `POST /events/batch` (docs/api.md#ingest).

202 is answered only after Kafka has acknowledged the event (acks=all, idempotent producer). Invalid input gets
the documented 4xx; a broker that does not answer gets 503 with Retry-After.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from ota_stream import metrics, wire
from ota_stream.errors import OtaStreamError
from ota_stream.kafka.producer import EventPublisher, KafkaBusy, KafkaUnavailable
from ota_stream.models import FieldError, InvalidEvent, TimeWindow, parse_event
from ota_stream.web.auth import Grant
from ota_stream.web.body import KIB, MIB, decode_json, read_limited, require_content_type
from ota_stream.web.declare import bind
from ota_stream.web.errors import ApiError, json_response
from ota_stream.web.routes import EVENTS, EVENTS_BATCH
from ota_stream.wire import Pseudonymize

SINGLE_LIMIT = 64 * KIB
BATCH_LIMIT = 4 * MIB
MAX_BATCH_EVENTS = 1000
JSON = ("application/json",)
JSON_OR_NDJSON = ("application/json", "application/x-ndjson")


class OutsideKey(OtaStreamError):
    """An event of a tenant, org or app that the request's ingest key does not cover (docs/security.md)."""


def rejection(index: int, exc: InvalidEvent | OutsideKey) -> dict[str, Any]:
    """One refused item of a batch, as the answer lists it: its index, why, and the fields at fault."""
    if isinstance(exc, InvalidEvent):
        return {"index": index, "code": "validation_failed", "errors": [e.as_dict() for e in exc.errors]}
    return {"index": index, "code": "forbidden", "errors": [{"field": "$", "message": str(exc)}]}


class Ingest:
    """Validation and publishing, shared by the two routes.

    Events are read by the fast path (wire.py) first; whatever it does not take goes through the pydantic model,
    which accepts it (the flat form) or names each bad field. With a key (web/auth.py), an event may leave out what
    the key fixes, and one outside the key's reach is refused.
    """

    def __init__(
        self, publisher: EventPublisher, window: TimeWindow, device_ids: Pseudonymize | None
    ) -> None:
        self.publisher = publisher
        self.window = window
        self.device_ids = device_ids

    def accept(self, item: Any, bounds: tuple[datetime, datetime], grant: Grant | None) -> wire.Accepted:
        """One event, decoded by the fast path (a struct) or not yet validated (JSON); raises InvalidEvent or
        OutsideKey."""
        if not isinstance(item, wire.EventWire):
            if grant is not None and isinstance(item, dict):
                grant.fill(item)
            fast = wire.convert(item)
            if fast is None:
                model = parse_event(item, bounds)
                self._check(grant, model.tenant_id, model.org_id, model.app_id)
                return wire.accept_model(model, self.device_ids)
            item = fast
        self._check(grant, item.tenant_id, item.org_id, item.app_id)
        return wire.accept(item, bounds, self.device_ids)

    @staticmethod
    def _check(grant: Grant | None, tenant_id: str, org_id: str, app_id: str) -> None:
        if grant is not None and not grant.covers(tenant_id, org_id, app_id):
            raise OutsideKey(f"{tenant_id}/{org_id}/{app_id} is outside this key's reach")

    async def publish(self, events: list[wire.Accepted], grant: Grant | None) -> None:
        if grant is not None:
            grant.charge(len(events))  # 429 for the whole request when the key's bucket cannot take them
        try:
            await self.publisher.publish([(event.key, event.line) for event in events])
        except KafkaUnavailable as exc:
            reason = "kafka_busy" if isinstance(exc, KafkaBusy) else "kafka_unavailable"
            metrics.INGEST_REJECTED.labels(reason).inc(len(events))
            raise  # 503 with Retry-After (web/errors.py)
        metrics.INGEST_ACCEPTED.inc(len(events))

    async def one(self, request: web.Request) -> web.Response:
        require_content_type(request, JSON)
        body = await read_limited(request, SINGLE_LIMIT)
        grant: Grant | None = request.get("grant")
        try:
            item = wire.decode_one(body)
            event = self.accept(item if item is not None else decode_json(body), self.window.bounds(), grant)
        except InvalidEvent as exc:
            raise ApiError(422, "the event is invalid", exc.errors) from None
        except OutsideKey as exc:
            raise ApiError(403, str(exc), code="forbidden") from None
        await self.publish([event], grant)
        body_out = {"status": "accepted", "event_id": event.event_id, "timestamp": event.timestamp}
        return json_response(body_out, 202)

    async def batch(self, request: web.Request) -> web.Response:
        content_type = require_content_type(request, JSON_OR_NDJSON)
        grant: Grant | None = request.get("grant")
        accepted, rejected = self.validate(content_type, await read_limited(request, BATCH_LIMIT), grant)
        if rejected:
            metrics.INGEST_REJECTED.labels("validation").inc(len(rejected))
        if accepted:
            await self.publish(accepted, grant)
        return json_response({"accepted": len(accepted), "rejected": rejected}, 202)

    def validate(
        self, content_type: str, body: bytes, grant: Grant | None
    ) -> tuple[list[wire.Accepted], list[dict[str, Any]]]:
        """A batch's valid events and its refused items. Its own function so that the body and the decoded events
        are freed before the request waits for Kafka: held through that wait by 16 concurrent batches of 1,000,
        they took an ingest process to 190 MiB."""
        bounds = self.window.bounds()
        items: list[Any] | None = None
        if content_type == "application/json":
            items = wire.decode_many(body)  # every event at once, when all of them are for the fast path
        if not items:  # not for the fast path, or empty: the slow path says which error
            items = _ndjson_items(body) if content_type == "application/x-ndjson" else _array_items(body)
        if len(items) > MAX_BATCH_EVENTS:
            raise ApiError(413, f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(items)}")
        accepted: list[wire.Accepted] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                if isinstance(item, _Undecodable):
                    raise InvalidEvent([FieldError("$", item.message)])
                accepted.append(self.accept(item, bounds, grant))
            except (InvalidEvent, OutsideKey) as exc:
                rejected.append(rejection(index, exc))
        return accepted, rejected


class _Undecodable:
    def __init__(self, message: str) -> None:
        self.message = message


def _array_items(body: bytes) -> list[Any]:
    data = decode_json(body)
    if not isinstance(data, list):
        raise ApiError(422, "a batch must be a JSON array of events", [FieldError("$", "expected an array")])
    if not data:
        raise ApiError(422, "a batch must hold at least one event", [FieldError("$", "empty array")])
    return data


def _ndjson_items(body: bytes) -> list[Any]:
    items: list[Any] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        fast = wire.decode_one(line)
        if fast is not None:
            items.append(fast)
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            items.append(_Undecodable(f"not valid JSON: {exc}"))
    if not items:
        raise ApiError(422, "a batch must hold at least one event", [FieldError("$", "no lines")])
    return items


# Whole requests refused before any event is published, by status. 503s are counted per event in `publish`.
REQUEST_REJECTIONS = {400: "invalid_json", 413: "too_large", 415: "unsupported_media_type", 422: "validation"}


def counting_rejections(handler: Handler) -> Handler:
    async def counted(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.status in REQUEST_REJECTIONS:
                metrics.INGEST_REJECTED.labels(REQUEST_REJECTIONS[exc.status]).inc()
            raise

    return counted


def routes(ingest: Ingest) -> list[web.RouteDef]:
    """Plain aiohttp routes, not Faust views: the busiest path skips Faust's view dispatch, and the same routes
    serve in the worker (Faust's web server) and in an ingest-only process (web/ingest_server.py)."""
    return [
        bind(EVENTS, counting_rejections(ingest.one)),
        bind(EVENTS_BATCH, counting_rejections(ingest.batch)),
    ]
