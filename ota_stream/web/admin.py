"""`/admin/keys` (spec §7): make, list and revoke API keys. A key with the admin scope manages its own tenant's
keys; ADMIN_API_KEY manages every tenant's. A new key is in the 201 answer and nowhere else, ever."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ota_stream.auth.keys import KEY_ID, Scope
from ota_stream.auth.store import KeyStore
from ota_stream.models import FieldError, Identifier
from ota_stream.web.auth import Grant, forbidden
from ota_stream.web.body import KIB, decode_json, read_limited, require_content_type
from ota_stream.web.errors import ApiError, invalid, json_response
from ota_stream.web.params import identifier

Body = TypeVar("Body", bound=BaseModel)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    org_id: Identifier | None = None
    app_id: Identifier | None = None
    name: str | None = Field(default=None, min_length=1, max_length=128)


def check_tenant(request: web.Request, tenant_id: str) -> None:
    """403 unless the request's key manages `tenant_id` (ADMIN_API_KEY manages every tenant)."""
    grant: Grant | None = request.get("grant")
    if grant is not None and not grant.covers_tenant(tenant_id):
        raise forbidden("this key manages another tenant")


def listed_tenant(request: web.Request) -> str | None:
    """The tenant a listing shows: `tenant_id`, else the key's; None (every tenant) for ADMIN_API_KEY alone."""
    for name in request.query:
        if name != "tenant_id":
            raise invalid(name, "unknown parameter")
    tenant = identifier(request.query, "tenant_id", required=False)
    grant: Grant | None = request.get("grant")
    if grant is not None and not grant.is_bootstrap:
        tenant = tenant or grant.key.tenant_id
    if tenant is not None:
        check_tenant(request, tenant)
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


def routes(store: KeyStore) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        spec = await admin_body(request, NewKey, "key request")
        check_tenant(request, spec.tenant_id)
        if spec.app_id is not None and spec.org_id is None:
            raise invalid("org_id", "is required when app_id narrows the key")
        record, key = await store.create(
            spec.tenant_id, tuple(dict.fromkeys(spec.scopes)), spec.org_id, spec.app_id, spec.name
        )
        return json_response({"data": {**record.public(), "key": key}}, 201)

    async def listing(request: web.Request) -> web.Response:
        return json_response({"data": [key.public() for key in store.of_tenant(listed_tenant(request))]})

    async def revoke(request: web.Request) -> web.Response:
        key_id = request.match_info["key_id"]
        if not KEY_ID.match(key_id):
            raise ApiError(404, "no such key")
        record = store.items.get(key_id)
        if record is None:
            raise ApiError(404, "no such key")
        check_tenant(request, record.tenant_id)
        revoked = await store.revoke(key_id)
        assert revoked is not None
        return json_response({"data": revoked.public()})

    return [
        web.post("/admin/keys", create),
        web.get("/admin/keys", listing),
        web.delete("/admin/keys/{key_id}", revoke),
    ]
