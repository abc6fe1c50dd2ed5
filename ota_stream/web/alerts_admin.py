"""`/admin/alerts` (spec §10): make, list and delete alert rules. The guard (web/auth.py) lets admin keys and
ADMIN_API_KEY in; an admin key manages its own tenant's rules only. A rule's signing secret is in the 201 answer
and in no listing. Every refusal of the input is a 422 naming the field, never a 500."""

from __future__ import annotations

import re

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from ota_stream.alerts import rules
from ota_stream.alerts.rules import NewRule, RuleStore
from ota_stream.alerts.webhooks import WebhookRefused, check_destination
from ota_stream.config import Settings
from ota_stream.models import FieldError
from ota_stream.web.auth import Grant, forbidden
from ota_stream.web.body import KIB, decode_json, read_limited, require_content_type
from ota_stream.web.errors import ApiError, invalid, json_response, unavailable
from ota_stream.web.params import identifier

RULE_ID = re.compile(rf"^[0-9a-f]{{{rules.RULE_ID_LENGTH}}}$")


def _own_tenant(request: web.Request, tenant_id: str) -> None:
    grant: Grant | None = request.get("grant")
    if grant is not None and not grant.covers_tenant(tenant_id):
        raise forbidden("this key manages another tenant")


def _validated(data: object, settings: Settings) -> NewRule:
    try:
        spec = NewRule.model_validate(data)
    except ValidationError as exc:
        details = [FieldError(".".join(map(str, e["loc"])) or "$", e["msg"]) for e in exc.errors()]
        raise ApiError(422, "the alert rule is invalid", details) from None
    errors = rules.check(spec, settings)
    if errors:
        raise ApiError(422, "the alert rule is invalid", errors)
    return spec


def routes(store: RuleStore, settings: Settings) -> list[web.RouteDef]:
    def ready() -> None:
        if not store.caught_up.is_set():
            raise unavailable("the worker is still reading the alert rules; retry")

    async def create(request: web.Request) -> web.Response:
        require_content_type(request, ("application/json",))
        spec = _validated(decode_json(await read_limited(request, 16 * KIB)), settings)
        _own_tenant(request, spec.tenant_id)
        try:
            await check_destination(spec.webhook_url, settings.alert_webhook_allow_private)
        except WebhookRefused as exc:
            raise invalid("webhook_url", str(exc)) from None
        rule = rules.make(spec)
        try:
            await store.add(rule)
        except (KafkaError, TimeoutError):
            raise unavailable("Kafka did not store the rule; retry") from None
        return json_response({"data": {**rule.public(), "secret": rule.secret}}, 201)

    async def listing(request: web.Request) -> web.Response:
        for name in request.query:
            if name != "tenant_id":
                raise invalid(name, "unknown parameter")
        ready()
        tenant = identifier(request.query, "tenant_id", required=False)
        grant: Grant | None = request.get("grant")
        if grant is not None and not grant.is_bootstrap:
            tenant = tenant or grant.key.tenant_id
        if tenant is not None:
            _own_tenant(request, tenant)
        return json_response({"data": [rule.public() for rule in store.of_tenant(tenant)]})

    async def delete(request: web.Request) -> web.Response:
        ready()
        rule_id = request.match_info["rule_id"]
        rule = store.items.get(rule_id) if RULE_ID.match(rule_id) else None
        if rule is None:
            raise ApiError(404, "no such alert rule")
        _own_tenant(request, rule.tenant_id)
        try:
            await store.delete(rule_id)
        except (KafkaError, TimeoutError):
            raise unavailable("Kafka did not record the deletion; retry") from None
        return json_response({"data": rule.public()})

    return [
        web.post("/admin/alerts", create),
        web.get("/admin/alerts", listing),
        web.delete("/admin/alerts/{rule_id}", delete),
    ]
