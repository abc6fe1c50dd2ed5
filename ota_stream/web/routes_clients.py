"""The real clients' routes, declared (docs/clients.md): each at the root and under `/c/{ingest_key}`, with the
client's own body and answer. web/compat.py binds its handlers to them."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from ota_stream.auth.keys import KeyScope
from ota_stream.compat import AIRBORNE, CAPGO, CODEPUSH_DEPLOY, CODEPUSH_DOWNLOAD, HOT_UPDATER, KEY_PREFIX
from ota_stream.compat.airborne import EVENT_TYPES
from ota_stream.compat.hot_updater import EVENTS
from ota_stream.compat.hot_updater_analytics import TYPES
from ota_stream.web.answers import LOOSE, TEXT, Schema, array
from ota_stream.web.declare import Answer, Limit, Route, error, json
from ota_stream.web.params import Id, Parameters


class ClientScope(Parameters):
    """What the client has no notion of, when no key fixes it; the client's own parameters are let through."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: Id | None = None
    org_id: Id | None = None
    app_id: Id | None = None


class KeyedClientScope(ClientScope):
    ingest_key: Annotated[str, Field(min_length=1, max_length=256)]  # in the path; web/auth.py reads it


ERRORS = {
    400: error("The body is not JSON."),
    401: error("A key is needed (AUTH_REQUIRED=true): in the path, Authorization or X-API-Key."),
    403: error("The event lies outside the key's tenant, org or app."),
    413: error("Over 64 KiB (4 MiB or 1,000 objects for Capgo)."),
    415: error("The content type is not JSON."),
    422: error("The client's body does not map to a valid event; `details` names the client's fields."),
    429: error("Over the key's rate limit."),
    503: error("Kafka did not acknowledge; retry after `Retry-After` seconds."),
}
_AIRBORNE_EVENT = {
    **LOOSE,
    "properties": {"event_type": {"enum": sorted(EVENT_TYPES)}, "eventType": {"enum": sorted(EVENT_TYPES)}},
    "description": "Airborne's snake_case body, or its iOS client's camelCase form.",
}
_AIRBORNE_ANSWER = {
    "type": "object",
    "required": ["status", "message", "event_id", "timestamp"],
    "properties": {"status": {"const": "success"}, "message": TEXT, "event_id": TEXT, "timestamp": TEXT},
}
_CAPGO_STATS = {**LOOSE, "properties": {"action": TEXT, "device_id": TEXT, "app_id": TEXT}}
_HOOK = {**LOOSE, "properties": {"event": {"enum": sorted(EVENTS)}, "deviceId": TEXT},
         "description": "The hook form: what the app's hot-updater hooks report."}  # fmt: skip
_OWN = {**LOOSE, "properties": {"type": {"enum": list(TYPES)}, "installId": TEXT, "toBundleId": TEXT},
        "description": "hot-updater's own analytics event, as its resolver's notifyAppReady posts it."}  # fmt: skip
_CODEPUSH_OK = {200: Answer("OK, as CodePush's server answers.", {"text/plain": {}})}


def _clients(path: str, summary: str, body: Schema, answers: dict[int, Answer]) -> tuple[Route, Route]:
    """The client's route at the root and under /c/{ingest_key}."""
    answers = {**ERRORS, **answers}
    content = {"application/json": body}
    ingest = (KeyScope.INGEST, Limit.EVENTS)
    return (
        Route("POST", path, summary, answers, ClientScope, content, *ingest),
        Route("POST", KEY_PREFIX + path, summary, answers, KeyedClientScope, content, *ingest),
    )


CLIENTS: dict[str, tuple[Route, Route]] = {
    AIRBORNE: _clients(
        AIRBORNE, "Airborne analytics event (its server's route and answer).", _AIRBORNE_EVENT,
        {200: json("Durably in Kafka.", _AIRBORNE_ANSWER)},
    ),
    CAPGO: _clients(
        CAPGO, "Capgo capacitor-updater stats (its statsUrl): one object or an array.",
        {"oneOf": [_CAPGO_STATS, {**array(_CAPGO_STATS), "minItems": 1, "maxItems": 1000}]},
        {200: json("The valid objects are in Kafka; `rejected` lists the others.",
                   {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})},
    ),
    HOT_UPDATER: _clients(
        HOT_UPDATER, "hot-updater event: its own analytics events, or what its hooks report.",
        {"anyOf": [_OWN, _HOOK]},
        {204: Answer("Durably in Kafka."), 400: error(
            "The body is not JSON, or hot-updater's own event is refused where its server refuses it (an unknown "
            "key, a missing field, a shape that does not fit its type); `details` names the field.")},
    ),
    **{path: _clients(path, "CodePush deploy status report (react-native-code-push with its server URL here).",
                      LOOSE, _CODEPUSH_OK) for path in CODEPUSH_DEPLOY},
    **{path: _clients(path, "CodePush download status report (react-native-code-push with its server URL here).",
                      LOOSE, _CODEPUSH_OK) for path in CODEPUSH_DOWNLOAD},
}  # fmt: skip
CLIENT_ROUTES = tuple(route for pair in CLIENTS.values() for route in pair)
