"""`/admin/keys`: make, list and revoke API keys. A key with the admin scope manages the keys within its own reach
(its tenant, or the org or app it is narrowed to), and makes keys within it only; ADMIN_API_KEY manages every
tenant's. A new key is in the 201 answer and nowhere else, ever."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, TypeVar

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from ota_stream.alerts.rules import AlertRule
from ota_stream.auth.keys import KEY_ID, ApiKey
from ota_stream.auth.store import KeyStore
from ota_stream.errors import Unavailable
from ota_stream.guards.rules import Guard
from ota_stream.kafka.compacted import CompactedTable
from ota_stream.models import FieldError
from ota_stream.web.auth import Grant, forbidden
from ota_stream.web.body import KIB, decode_json, read_limited, require_content_type
from ota_stream.web.declare import bind, given
from ota_stream.web.errors import ApiError, invalid, json_response
from ota_stream.web.routes import CREATE_KEY, LIST_KEYS, REVOKE_KEY, KeyPath, NewKey, TenantFilter

Body = TypeVar("Body", bound=BaseModel)
Written = TypeVar("Written")


def check_reach(request: web.Request, tenant_id: str, org_id: str | None, app_id: str | None) -> None:
    """403 unless the request's key reaches `tenant_id` (and `org_id`/`app_id`; None is every org or app of the
    tenant, beyond a narrowed key). ADMIN_API_KEY reaches everything."""
    grant: Grant | None = request.get("grant")
    if grant is None or grant.covers(tenant_id, org_id, app_id):
        return
    if not grant.covers_tenant(tenant_id):
        raise forbidden("this key manages another tenant")
    raise forbidden(f"this key manages {grant.reach} only")


def narrowed(request: web.Request, org_id: str | None, app_id: str | None) -> tuple[str | None, str | None]:
    """The org and app of something an admin request makes: as given, else the ones its key is narrowed to."""
    grant: Grant | None = request.get("grant")
    fixed = grant.fixed() if grant is not None else {}
    return org_id or fixed.get("org_id"), app_id or fixed.get("app_id")


Reachable = TypeVar("Reachable", ApiKey, AlertRule, Guard)


def within_reach(request: web.Request, items: Iterable[Reachable]) -> list[Reachable]:
    """The keys, rules or guards of a listing that the request's key reaches."""
    grant: Grant | None = request.get("grant")
    return [item for item in items if grant is None or grant.covers(item.tenant_id, item.org_id, item.app_id)]


def named(
    request: web.Request, items: Mapping[str, Reachable], item_id: str, form: re.Pattern[str], what: str
) -> Reachable:
    """The key, rule or guard a path names, if the request's key reaches it: 404 for an id not of its `form` or
    not stored (the same answer, so a malformed id tells nothing more), 403 beyond the key."""
    item = items.get(item_id) if form.match(item_id) else None
    if item is None:
        raise ApiError(404, f"no such {what}")
    check_reach(request, item.tenant_id, item.org_id, item.app_id)
    return item


def listed_tenant(request: web.Request) -> str | None:
    """The tenant a listing shows: `tenant_id`, else the key's; None (every tenant) for ADMIN_API_KEY alone."""
    tenant = given(request, TenantFilter).tenant_id
    grant: Grant | None = request.get("grant")
    if grant is not None and not grant.is_bootstrap:
        tenant = tenant or grant.key.tenant_id
        if not grant.covers_tenant(tenant):
            raise forbidden("this key manages another tenant")
    return tenant


async def admin_body(request: web.Request, model: type[Body], what: str) -> Body:
    """A JSON body of at most 16 KiB validated by `model`; a 422 naming each field otherwise."""
    require_content_type(request, ("application/json",))
    data = decode_json(await read_limited(request, 16 * KIB))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [FieldError(".".join(map(str, e["loc"])) or "$", e["msg"]) for e in exc.errors()]
        raise ApiError(422, f"the {what} is invalid", details) from None


async def stored(table: CompactedTable[Any], write: Awaitable[Written]) -> Written:
    """A change written to a compacted topic (keys, alert rules), or 503 with Retry-After when Kafka has not taken
    it within INGEST_ACK_TIMEOUT_SECONDS: a broker that is away surfaced as a 500, after aiokafka's 40 s. The
    change may still be stored later, so a retry is safe (a retried creation makes another key or rule)."""
    try:
        return await asyncio.wait_for(write, table.settings.ack_timeout_seconds)
    except (KafkaError, TimeoutError):
        raise Unavailable("Kafka did not store the change; retry") from None


def routes(store: KeyStore) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        spec = await admin_body(request, NewKey, "key request")
        org_id, app_id = narrowed(request, spec.org_id, spec.app_id)
        if app_id is not None and org_id is None:
            raise invalid("org_id", "is required when app_id narrows the key")
        check_reach(request, spec.tenant_id, org_id, app_id)
        scopes = tuple(dict.fromkeys(spec.scopes))
        record, key = await stored(store, store.create(spec.tenant_id, scopes, org_id, app_id, spec.name))
        return json_response({"data": {**record.public(), "key": key}}, 201)

    async def listing(request: web.Request) -> web.Response:
        found = within_reach(request, store.of_tenant(listed_tenant(request)))
        return json_response({"data": [key.public() for key in found]})

    async def revoke(request: web.Request) -> web.Response:
        record = named(request, store.items, given(request, KeyPath).key_id, KEY_ID, "key")
        revoked = await stored(store, store.revoke(record.key_id))
        assert revoked is not None
        return json_response({"data": revoked.public()})

    return [bind(CREATE_KEY, create), bind(LIST_KEYS, listing), bind(REVOKE_KEY, revoke)]
