"""`/admin/keys` (spec §7): make, list and revoke API keys. A key with the admin scope manages its own tenant's
keys; ADMIN_API_KEY manages every tenant's. A new key is in the 201 answer and nowhere else, ever."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ota_stream.auth.keys import KEY_ID, Scope
from ota_stream.auth.store import KeyStore
from ota_stream.models import FieldError, Identifier
from ota_stream.web.auth import Grant, forbidden
from ota_stream.web.body import KIB, decode_json, read_limited, require_content_type
from ota_stream.web.errors import ApiError, invalid, json_response
from ota_stream.web.params import identifier


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    org_id: Identifier | None = None
    app_id: Identifier | None = None
    name: str | None = Field(default=None, min_length=1, max_length=128)


def _grant(request: web.Request) -> Grant | None:
    return request.get("grant")


def _check_tenant(request: web.Request, tenant_id: str) -> None:
    grant = _grant(request)
    if grant is not None and not grant.covers_tenant(tenant_id):
        raise forbidden("this key manages another tenant")


def routes(store: KeyStore) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        require_content_type(request, ("application/json",))
        data = decode_json(await read_limited(request, 16 * KIB))
        try:
            spec = NewKey.model_validate(data)
        except ValidationError as exc:
            details = [FieldError(".".join(map(str, e["loc"])) or "$", e["msg"]) for e in exc.errors()]
            raise ApiError(422, "the key request is invalid", details) from None
        _check_tenant(request, spec.tenant_id)
        if spec.app_id is not None and spec.org_id is None:
            raise invalid("org_id", "is required when app_id narrows the key")
        record, key = await store.create(
            spec.tenant_id, tuple(dict.fromkeys(spec.scopes)), spec.org_id, spec.app_id, spec.name
        )
        return json_response({"data": {**record.public(), "key": key}}, 201)

    async def listing(request: web.Request) -> web.Response:
        for name in request.query:
            if name != "tenant_id":
                raise invalid(name, "unknown parameter")
        tenant = identifier(request.query, "tenant_id", required=False)
        grant = _grant(request)
        if grant is not None and not grant.is_bootstrap:
            tenant = tenant or grant.key.tenant_id
        if tenant is not None:
            _check_tenant(request, tenant)
        return json_response({"data": [key.public() for key in store.of_tenant(tenant)]})

    async def revoke(request: web.Request) -> web.Response:
        key_id = request.match_info["key_id"]
        if not KEY_ID.match(key_id):
            raise ApiError(404, "no such key")
        record = store.items.get(key_id)
        if record is None:
            raise ApiError(404, "no such key")
        _check_tenant(request, record.tenant_id)
        revoked = await store.revoke(key_id)
        assert revoked is not None
        return json_response({"data": revoked.public()})

    return [
        web.post("/admin/keys", create),
        web.get("/admin/keys", listing),
        web.delete("/admin/keys/{key_id}", revoke),
    ]
