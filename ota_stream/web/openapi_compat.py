"""The real clients' routes in the OpenAPI document (docs/clients.md), each at the root and under `/c/{ingest_key}`."""

from __future__ import annotations

from typing import Any

from ota_stream.compat import AIRBORNE, CAPGO, CODEPUSH_DEPLOY, CODEPUSH_DOWNLOAD, HOT_UPDATER, KEY_PREFIX
from ota_stream.compat.airborne import EVENT_TYPES
from ota_stream.compat.hot_updater import EVENTS
from ota_stream.compat.hot_updater_analytics import TYPES
from ota_stream.web.openapi_schema import ID, TEXT, array, error, json_body, param

SCOPE = [param(name, ID) for name in ("tenant_id", "org_id", "app_id")]
ERRORS = {
    "400": error("The body is not JSON."),
    "401": error("A key is needed (AUTH_REQUIRED=true): in the path, Authorization or X-API-Key."),
    "403": error("The event lies outside the key's tenant, org or app."),
    "413": error("Over 64 KiB (4 MiB or 1,000 objects for Capgo)."),
    "415": error("The content type is not JSON."),
    "422": error("The client's body does not map to a valid event; `details` names the client's fields."),
    "429": error("Over the key's rate limit."),
    "503": error("Kafka did not acknowledge; retry after `Retry-After` seconds."),
}
LOOSE = {"type": "object", "additionalProperties": True}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _airborne() -> dict[str, Any]:
    event = {
        **LOOSE,
        "properties": {
            "event_type": {"enum": sorted(EVENT_TYPES)},
            "eventType": {"enum": sorted(EVENT_TYPES)},
        },
        "description": "Airborne's snake_case body, or its iOS client's camelCase form.",
    }
    answer = {
        "type": "object",
        "required": ["status", "message", "event_id", "timestamp"],
        "properties": {"status": {"const": "success"}, "message": TEXT, "event_id": TEXT, "timestamp": TEXT},
    }
    return {
        "summary": "Airborne analytics event (its server's route and answer).",
        "requestBody": _body(event),
        "responses": {"200": json_body("Durably in Kafka.", answer), **ERRORS},
    }


def _capgo() -> dict[str, Any]:
    stats = {**LOOSE, "properties": {"action": TEXT, "device_id": TEXT, "app_id": TEXT}}
    answer = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    return {
        "summary": "Capgo capacitor-updater stats (its statsUrl): one object or an array.",
        "requestBody": _body({"oneOf": [stats, {**array(stats), "minItems": 1, "maxItems": 1000}]}),
        "responses": {"200": json_body("The valid objects are in Kafka; `rejected` lists the others.", answer),
                      **ERRORS},
    }  # fmt: skip


def _codepush(kind: str) -> dict[str, Any]:
    return {
        "summary": f"CodePush {kind} status report (react-native-code-push with its server URL here).",
        "requestBody": _body(LOOSE),
        "responses": {"200": {"description": "OK, as CodePush's server answers.", "content": {"text/plain": {}}},
                      **ERRORS},
    }  # fmt: skip


def _hot_updater() -> dict[str, Any]:
    hook = {**LOOSE, "properties": {"event": {"enum": sorted(EVENTS)}, "deviceId": TEXT},
            "description": "The hook form: what the app's hot-updater hooks report."}  # fmt: skip
    own = {**LOOSE, "properties": {"type": {"enum": list(TYPES)}, "installId": TEXT, "toBundleId": TEXT},
           "description": "hot-updater's own analytics event, as its resolver's notifyAppReady posts it."}  # fmt: skip
    refused = error(
        "The body is not JSON, or hot-updater's own event is refused where its server refuses it (an unknown key, "
        "a missing field, a shape that does not fit its type); `details` names the field."
    )
    return {
        "summary": "hot-updater event: its own analytics events, or what its hooks report.",
        "requestBody": _body({"anyOf": [own, hook]}),
        "responses": {"204": {"description": "Durably in Kafka."}, **ERRORS, "400": refused},
    }


def compat_paths() -> dict[str, Any]:
    operations = {
        AIRBORNE: _airborne(),
        CAPGO: _capgo(),
        HOT_UPDATER: _hot_updater(),
        **{path: _codepush("deploy") for path in CODEPUSH_DEPLOY},
        **{path: _codepush("download") for path in CODEPUSH_DOWNLOAD},
    }
    key = param(
        "ingest_key", {"type": "string", "minLength": 1, "maxLength": 256}, required=True, where="path"
    )
    paths: dict[str, Any] = {}
    for path, operation in operations.items():
        paths[path] = {"post": {**operation, "parameters": SCOPE}}
        paths[KEY_PREFIX + path] = {"post": {**operation, "parameters": [key, *SCOPE]}}
    return paths
