"""`/admin/guards`: make, list and delete rollout guards, and list a guard's decisions (docs/decisions.md).

Like `/admin/alerts`: admin keys and ADMIN_API_KEY only, each admin key within its own reach (its tenant, or its
org or app when narrowed); the signing secret is in the 201 answer and in no listing; the webhook URL passes the
alerts' checks; every refusal of the input is a 4xx naming the field. A guard's decisions live in the
`guard-decisions` table on the worker that owns the guard's partition, so their listing is answered there (Faust's
router forwards the request).
"""

from __future__ import annotations

import re

import faust
from aiohttp import web

from ota_stream.alerts.state import AlertStates
from ota_stream.alerts.webhooks import WebhookRefused, check_destination
from ota_stream.config import AlertSettings
from ota_stream.errors import NotReady
from ota_stream.guards import decisions, rules
from ota_stream.guards.rules import GUARD_ID_PATTERN, Guard, GuardStore, NewGuard
from ota_stream.kafka.routing import STARTING, on_owner
from ota_stream.web.admin import admin_body, check_reach, listed_tenant, named, stored, within_reach
from ota_stream.web.declare import bind, given
from ota_stream.web.errors import invalid, json_response
from ota_stream.web.routes import CREATE_GUARD, DELETE_GUARD, GUARD_DECISIONS, LIST_GUARDS, GuardPath

GUARD_ID = re.compile(GUARD_ID_PATTERN)


def routes(
    app: faust.App, store: GuardStore, states: AlertStates, alerts: AlertSettings
) -> list[web.RouteDef]:
    def ready() -> None:
        if not store.caught_up.is_set():
            raise NotReady("the worker is still reading the guards; retry")

    def reachable(request: web.Request) -> Guard:
        """The guard the path names, if the request's key reaches it: 404 for none, 403 beyond the key."""
        ready()
        return named(request, store.items, given(request, GuardPath).guard_id, GUARD_ID, "guard")

    async def create(request: web.Request) -> web.Response:
        spec = await admin_body(request, NewGuard, "guard")
        check_reach(request, spec.tenant_id, spec.org_id, spec.app_id)
        try:
            await check_destination(spec.webhook_url, alerts.webhook_allow_private)
        except WebhookRefused as exc:
            raise invalid("webhook_url", str(exc)) from None
        guard = rules.make(spec)
        await stored(store, store.add(guard))
        return json_response({"data": {**guard.public(), "secret": guard.secret}}, 201)

    async def listing(request: web.Request) -> web.Response:
        tenant = listed_tenant(request)
        ready()
        found = within_reach(request, store.of_tenant(tenant))
        return json_response({"data": [guard.public() for guard in found]})

    async def delete(request: web.Request) -> web.Response:
        guard = reachable(request)
        await stored(store, store.delete(guard.guard_id))
        return json_response({"data": guard.public()})

    async def decided(request: web.Request) -> web.StreamResponse:
        guard = reachable(request)

        async def answer() -> web.Response:
            if guard.partition(states.partitions) not in states.owned():
                raise NotReady(STARTING)  # owned by no one right now: a rebalance or a recovery
            entries = [entry for key, entry in states.owned_items() if key[0] == guard.guard_id]
            found = sorted((decisions.listed(entry) for entry in entries), key=lambda d: d["decided_at"])
            return json_response({"data": found})

        # As bytes: the decisions are in the partition of the guard id's bytes (Guard.partition), not of its JSON.
        return await on_owner(app, states.table, guard.guard_id.encode(), request, answer)

    return [
        bind(CREATE_GUARD, create),
        bind(LIST_GUARDS, listing),
        bind(DELETE_GUARD, delete),
        bind(GUARD_DECISIONS, decided),
    ]
