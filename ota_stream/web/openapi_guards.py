"""The rollout guards' admin routes in the OpenAPI document (docs/decisions.md#rollout-guards), next to the alert
rules' (web/openapi_security.py), whose answers they share."""

from __future__ import annotations

from typing import Any

from ota_stream.guards.rules import Action, NewGuard
from ota_stream.web.openapi_releases import HEALTH
from ota_stream.web.openapi_schema import ID, INTEGER, TEXT, TIMESTAMP, array, data, json_body, obj, param
from ota_stream.web.openapi_security import ADMIN_ERRORS, _inlined

NULLABLE_TEXT = {"type": ["string", "null"]}
ACTION = {"enum": [str(action) for action in Action]}
GUARD = obj(
    {
        "guard_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "tenant_id": ID,
        "org_id": ID,
        "app_id": ID,
        "channel": NULLABLE_TEXT,
        "rules": {"type": "object", "description": "the health gate's parameters, defaults filled in"},
        "action": ACTION,
        "webhook_url": TEXT,
        "watch_hours": INTEGER,
        "created_at": TEXT,
    }
)
CREATED = {
    **GUARD,
    "properties": {**GUARD["properties"], "secret": TEXT},
    "required": [*GUARD["required"], "secret"],
}
# The body each decision sends, and how its delivery went.
DECISION = obj(
    {
        "decision_id": TEXT,
        "guard_id": TEXT,
        "decision": ACTION,
        "tenant_id": TEXT,
        "org_id": TEXT,
        "app_id": TEXT,
        "channel": NULLABLE_TEXT,
        "version": TEXT,
        "health": HEALTH,
        "decided_at": TIMESTAMP,
        "delivery": {"enum": ["pending", "delivered", "given_up"]},
        "delivered_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
    }
)


def guard_paths() -> dict[str, Any]:
    guard_id = param("guard_id", {"type": "string"}, required=True, where="path")
    unavailable = {"503": ADMIN_ERRORS["503"]}
    missing = {"404": {**ADMIN_ERRORS["404"], "description": "No such guard."}}
    return {
        "/admin/guards": {
            "post": {
                "summary": "Create a rollout guard; its signing secret is shown once.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _inlined(NewGuard.model_json_schema())}}},
                "responses": {"201": json_body("The new guard.", data(CREATED)),
                              **{code: ADMIN_ERRORS[code] for code in ("400", "413", "415", "422", "503")}},
            },
            "get": {
                "summary": "List a tenant's rollout guards, without secrets.",
                "parameters": [param("tenant_id", {"type": "string"})],
                "responses": {"200": json_body("The guards.", data(array(GUARD))),
                              "422": ADMIN_ERRORS["422"], **unavailable},
            },
        },
        "/admin/guards/{guard_id}": {
            "delete": {
                "summary": "Delete a guard with its decisions; a decision not yet delivered is dropped.",
                "parameters": [guard_id],
                "responses": {"200": json_body("The deleted guard.", data(GUARD)), **missing, **unavailable},
            }
        },
        "/admin/guards/{guard_id}/decisions": {
            "get": {
                "summary": "A guard's decisions, oldest first, each with how its delivery went.",
                "parameters": [guard_id],
                "responses": {"200": json_body("The decisions.", data(array(DECISION))),
                              "422": ADMIN_ERRORS["422"], **missing, **unavailable},
            }
        },
    }  # fmt: skip
