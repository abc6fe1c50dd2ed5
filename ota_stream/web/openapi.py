"""`GET /openapi.json`: an OpenAPI 3.1 description of every route and its errors.

The event schema is generated from the pydantic model, so the document cannot drift from validation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from faust import App
from faust.web import View

from ota_stream import __version__
from ota_stream.models import ID_RULE, OtaEvent
from ota_stream.storage.queries.failures import GROUP_BY
from ota_stream.storage.queries.versions import SEGMENTS
from ota_stream.web.errors import json_response
from ota_stream.web.openapi_compat import compat_paths
from ota_stream.web.openapi_guards import guard_paths
from ota_stream.web.openapi_releases import release_paths
from ota_stream.web.openapi_schema import ID
from ota_stream.web.openapi_schema import error as _error
from ota_stream.web.openapi_schema import json_body as _json
from ota_stream.web.openapi_schema import param as _param
from ota_stream.web.openapi_security import SCHEMES, admin_paths, secure

INGEST_ERRORS = {
    "400": _error("The body is not JSON."),
    "413": _error("Over 64 KiB (single), 4 MiB or 1,000 events (batch)."),
    "415": _error("The content type is not JSON (or NDJSON for a batch)."),
    "422": _error("Validation failed; `details` names each field."),
    "503": {**_error("Kafka did not acknowledge; retry after `Retry-After` seconds."), "headers": {
        "Retry-After": {"schema": {"type": "integer"}}}},
}  # fmt: skip
QUERY_ERRORS = {
    "422": _error("A parameter is missing, unknown, repeated or invalid; `details` names it."),
    "503": _error("ClickHouse is unavailable."),
}


COMMON = [
    _param("tenant_id", ID, required=True),
    _param("org_id", ID),
    _param("app_id", ID),
    _param("days", {"type": "integer", "minimum": 1, "maximum": 365, "default": 30}),
    _param("from", {"type": "string", "format": "date-time"}),
    _param("to", {"type": "string", "format": "date-time"}),
]
EXTRA = {
    "adoption": [_param("target_version", {"type": "string", "minLength": 1, "maxLength": 128})],
    "versions": [_param("segment", {"enum": sorted(SEGMENTS)})],
    "active-devices": [],
    "failures": [_param("group_by", {"enum": list(GROUP_BY), "default": "error_code"})],
    "performance": [],
}


def _analytics(name: str) -> dict[str, Any]:
    data = {"type": "object", "properties": {"data": {"type": "object"}}, "required": ["data"]}
    return {
        "get": {
            "summary": f"{name} analytics",
            "parameters": COMMON + EXTRA[name],
            "responses": {"200": _json("The numbers.", data), **QUERY_ERRORS},
        }
    }


def _live(suffix: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
    ids = [_param(n, ID, required=True, where="path") for n in ("tenant_id", "org_id", "app_id")]
    data = {"type": "object", "properties": {"data": {"type": "object"}}, "required": ["data"]}
    return {
        "get": {
            "summary": f"Live windows: {suffix}",
            "parameters": ids + extra,
            "responses": {
                "200": _json("Windows from the Faust table.", data),
                "404": _error(f"No such route (an id that is not {ID_RULE})."),
                "422": _error("A bad or unknown parameter."),
                "503": _error("The worker is starting or rebalancing."),
            },
        }
    }


@cache
def document(live_last: int | None, auth_required: bool) -> dict[str, Any]:
    """`live_last`: the most windows `/live/…/windows?last=` serves; None when live tables are off (no /live)."""
    event = OtaEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = event.pop("$defs", {})
    schemas["OtaEvent"] = event
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        },
                    },
                },
            }
        },
    }
    accepted = {
        "type": "object",
        "required": ["status", "event_id", "timestamp"],
        "properties": {
            "status": {"const": "accepted"},
            "event_id": {"type": "string"},
            "timestamp": {"type": "string"},
        },
    }
    batch_result = {
        "type": "object",
        "required": ["accepted", "rejected"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "code", "errors"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "code": {"enum": ["validation_failed", "forbidden"]},
                        "errors": {"type": "array"},
                    },
                },
            },
        },
    }
    event_ref = {"$ref": "#/components/schemas/OtaEvent"}
    paths: dict[str, Any] = {
        "/events": {
            "post": {
                "summary": "Ingest one event (nested or flat form).",
                "requestBody": {"required": True, "content": {"application/json": {"schema": event_ref}}},
                "responses": {"202": _json("Durably in Kafka.", accepted), **INGEST_ERRORS},
            }
        },
        "/events/batch": {
            "post": {
                "summary": "Ingest up to 1,000 events: a JSON array, or NDJSON.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": event_ref, "maxItems": 1000}
                        },
                        "application/x-ndjson": {"schema": {"type": "string"}},
                    },
                },
                "responses": {"202": _json("Valid events are in Kafka.", batch_result), **INGEST_ERRORS},
            }
        },
        **{f"/analytics/{name}": _analytics(name) for name in EXTRA},
        **release_paths(COMMON, QUERY_ERRORS),
        **compat_paths(),
        **_live_paths(live_last),
        "/health": {
            "get": {
                "summary": "Health.",
                "responses": {
                    "200": _json("Healthy or degraded.", {"type": "object", "required": ["status"]}),
                    "503": _json("Unhealthy.", {"type": "object", "required": ["status"]}),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics.",
                "responses": {"200": {"description": "Text format.", "content": {"text/plain": {}}}},
            }
        },
        **admin_paths(),
        **guard_paths(),
    }
    secure(paths, auth_required)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ota-stream", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SCHEMES},
    }


def _live_paths(live_last: int | None) -> dict[str, Any]:
    if live_last is None:
        return {}
    last = _param("last", {"type": "integer", "minimum": 1, "maximum": live_last})
    return {
        "/live/{tenant_id}/{org_id}/{app_id}/windows": _live("the newest windows with data", [last]),
        "/live/{tenant_id}/{org_id}/{app_id}/now": _live("the window holding now", []),
    }


def register(app: App, live_last: int | None, auth_required: bool) -> None:
    body = document(live_last, auth_required)

    @app.page("/openapi.json", name="openapi")
    class OpenApi(View):
        async def get(self, request: web.Request) -> web.Response:
            return json_response(body)
