"""`/admin/alerts`: make, list and delete alert rules. The guard (web/auth.py) lets admin keys and ADMIN_API_KEY
in; an admin key manages the rules within its own reach only (its tenant, or its org or app when narrowed). A
rule's signing secret is in the 201 answer and in no listing. Every refusal of the input is a 422 naming the field,
never a 500."""

from __future__ import annotations

import re

from aiohttp import web

from ota_stream.alerts import rules
from ota_stream.alerts.rules import NewRule, RuleStore
from ota_stream.alerts.webhooks import WebhookRefused, check_destination
from ota_stream.config import AlertSettings, LiveSettings
from ota_stream.errors import NotReady
from ota_stream.web.admin import (
    admin_body,
    check_reach,
    listed_tenant,
    named,
    narrowed,
    stored,
    within_reach,
)
from ota_stream.web.declare import bind, given
from ota_stream.web.errors import ApiError, invalid, json_response
from ota_stream.web.routes import CREATE_RULE, DELETE_RULE, LIST_RULES, RulePath

RULE_ID = re.compile(rf"^[0-9a-f]{{{rules.RULE_ID_LENGTH}}}$")


def _validated(spec: NewRule, live: LiveSettings) -> NewRule:
    errors = rules.check(spec, live)
    if errors:
        raise ApiError(422, "the alert rule is invalid", errors)
    return spec


def routes(store: RuleStore, live: LiveSettings, alerts: AlertSettings) -> list[web.RouteDef]:
    def ready() -> None:
        if not store.caught_up.is_set():
            raise NotReady("the worker is still reading the alert rules; retry")

    async def create(request: web.Request) -> web.Response:
        given = await admin_body(request, NewRule, "alert rule")
        org_id, app_id = narrowed(request, given.org_id, given.app_id)
        spec = _validated(given.model_copy(update={"org_id": org_id, "app_id": app_id}), live)
        check_reach(request, spec.tenant_id, spec.org_id, spec.app_id)
        try:
            await check_destination(spec.webhook_url, alerts.webhook_allow_private)
        except WebhookRefused as exc:
            raise invalid("webhook_url", str(exc)) from None
        rule = rules.make(spec)
        await stored(store, store.add(rule))
        return json_response({"data": {**rule.public(), "secret": rule.secret}}, 201)

    async def listing(request: web.Request) -> web.Response:
        tenant = listed_tenant(request)
        ready()
        return json_response(
            {"data": [rule.public() for rule in within_reach(request, store.of_tenant(tenant))]}
        )

    async def delete(request: web.Request) -> web.Response:
        ready()
        rule = named(request, store.items, given(request, RulePath).rule_id, RULE_ID, "alert rule")
        await stored(store, store.delete(rule.rule_id))
        return json_response({"data": rule.public()})

    return [
        bind(CREATE_RULE, create),
        bind(LIST_RULES, listing),
        bind(DELETE_RULE, delete),
    ]
