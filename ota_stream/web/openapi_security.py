"""The keys of docs/security.md in the OpenAPI document: security schemes, the admin routes, and per operation the
key it
needs (from `web.auth.scope_for`, the rule the Guard enforces) with the 401, 403 and 429 answers that come with it."""

from __future__ import annotations

from typing import Any

from ota_stream.alerts.rules import Metric, NewRule
from ota_stream.auth.keys import KeyScope
from ota_stream.web.admin import NewKey
from ota_stream.web.auth import scope_for
from ota_stream.web.openapi_schema import data, json_body, param
from ota_stream.web.openapi_schema import error as _error

SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
KEY: dict[str, Any] = {
    "type": "object",
    "required": ["key_id", "tenant_id", "scopes", "created_at", "revoked_at"],
    "properties": {
        "key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "tenant_id": {"type": "string"},
        "scopes": {"type": "array", "items": {"enum": [str(scope) for scope in KeyScope]}},
        "org_id": {"type": ["string", "null"]},
        "app_id": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "created_at": {"type": "string"},
        "revoked_at": {"type": ["string", "null"], "description": "null while the key is active"},
    },
}
RULE: dict[str, Any] = {
    "type": "object",
    "required": ["rule_id", "tenant_id", "metric", "threshold", "window_minutes", "min_events", "webhook_url",
                 "org_id", "app_id", "created_at"],
    "properties": {
        "rule_id": {"type": "string"},
        "tenant_id": {"type": "string"},
        "org_id": {"type": ["string", "null"]},
        "app_id": {"type": ["string", "null"]},
        "metric": {"enum": [str(metric) for metric in Metric]},
        "threshold": {"type": "number"},
        "window_minutes": {"type": "integer"},
        "min_events": {"type": "integer"},
        "webhook_url": {"type": "string"},
        "created_at": {"type": "string"},
    },
}  # fmt: skip
ADMIN_ERRORS = {
    "400": _error("The body is not JSON."),
    "404": _error("No such key or rule."),
    "413": _error("The body is over 16 KiB."),
    "415": _error("The content type is not JSON."),
    "422": _error("The request is invalid; `details` names the field."),
    "503": _error(
        "Kafka did not store the change, or the process is still reading its keys or rules; retry."
    ),
}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` put in place, so the document needs no extra components."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


def admin_paths() -> dict[str, Any]:
    key_id = param("key_id", {"type": "string"}, required=True, where="path")
    created = {**KEY, "properties": {**KEY["properties"], "key": {"type": "string"}}}
    return {
        "/admin/keys": {
            "post": {
                "summary": "Create a key; its secret is shown once.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _inlined(NewKey.model_json_schema())}}},
                "responses": {"201": json_body("The new key.", data(created)),
                              **{code: ADMIN_ERRORS[code] for code in ("400", "413", "415", "422")}},
            },
            "get": {
                "summary": "List a tenant's keys, without secrets.",
                "parameters": [param("tenant_id", {"type": "string"})],
                "responses": {"200": json_body("The keys.", data({"type": "array", "items": KEY})),
                              "422": ADMIN_ERRORS["422"]},
            },
        },
        "/admin/keys/{key_id}": {
            "delete": {
                "summary": "Revoke a key; every process refuses it within seconds.",
                "parameters": [key_id],
                "responses": {"200": json_body("The revoked key.", data(KEY)), "404": ADMIN_ERRORS["404"]},
            }
        },
        **alert_paths(),
    }  # fmt: skip


def alert_paths() -> dict[str, Any]:
    rule_id = param("rule_id", {"type": "string"}, required=True, where="path")
    created = {**RULE, "properties": {**RULE["properties"], "secret": {"type": "string"}}}
    unavailable = {"503": ADMIN_ERRORS["503"]}
    return {
        "/admin/alerts": {
            "post": {
                "summary": "Create an alert rule; its signing secret is shown once.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _inlined(NewRule.model_json_schema())}}},
                "responses": {"201": json_body("The new rule.", data(created)),
                              **{code: ADMIN_ERRORS[code] for code in ("400", "413", "415", "422", "503")}},
            },
            "get": {
                "summary": "List a tenant's alert rules, without secrets.",
                "parameters": [param("tenant_id", {"type": "string"})],
                "responses": {"200": json_body("The rules.", data({"type": "array", "items": RULE})),
                              "422": ADMIN_ERRORS["422"], **unavailable},
            },
        },
        "/admin/alerts/{rule_id}": {
            "delete": {
                "summary": "Delete an alert rule; no notification follows it.",
                "parameters": [rule_id],
                "responses": {"200": json_body("The deleted rule.", data(RULE)), "404": ADMIN_ERRORS["404"],
                              **unavailable},
            }
        },
    }  # fmt: skip


def secure(paths: dict[str, Any], auth_required: bool) -> None:
    """Mark each keyed operation of `paths` (in place). Without AUTH_REQUIRED a key is optional."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            scope = scope_for(method.upper(), path)
            if scope is None:
                continue
            options: list[dict[str, list[str]]] = [{name: []} for name in SCHEMES]
            operation["security"] = options if auth_required else [{}, *options]
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _error("No key, or an unknown, revoked or malformed one."))
            responses.setdefault(
                "403", _error(f"The key lacks the {scope} scope, or does not reach this tenant, org or app.")
            )
            responses.setdefault("429", _error("Over the key's rate limit; retry after `Retry-After`."))
