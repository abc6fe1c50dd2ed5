"""Every route of the API, declared once (web/declare.py): what validates its parameters, what /openapi.json says,
which key it needs and how it is rate-limited. The handlers bind to these declarations in their own modules.

Clients' compatibility routes are declared in web/routes_clients.py; ROUTES holds them too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from ota_stream.alerts.rules import NewRule
from ota_stream.auth.keys import KeyScope
from ota_stream.guards.rules import NewGuard
from ota_stream.models import ID_CHARS, ID_MAX, ID_RULE, EventType, Identifier
from ota_stream.storage.export_sql import LAYOUTS
from ota_stream.storage.queries import compare, device_events, failure_messages, releases, segments
from ota_stream.storage.queries.failures import GROUP_BY
from ota_stream.storage.queries.release_health import MAX_MIN_DEVICES, Thresholds
from ota_stream.storage.queries.versions import SEGMENTS
from ota_stream.web import answers as a
from ota_stream.web.declare import Answer, Limit, Route, error, json
from ota_stream.web.params import Choice, Flag, Id, Parameters, Rate, StoredText, Whole, Window
from ota_stream.web.routes_clients import CLIENT_ROUTES

LIVE_LAST = 10  # windows `/live/…/windows` answers without `last`
_HEALTH = Thresholds()


INGEST_ERRORS = {
    400: error("The body is not JSON."),
    413: error("Over 64 KiB (single), 4 MiB or 1,000 events (batch)."),
    415: error("The content type is not JSON (or NDJSON for a batch)."),
    422: error("Validation failed; `details` names each field."),
    503: Answer("Kafka did not acknowledge; retry after `Retry-After` seconds.", {"application/json": a.ERROR},
                {"Retry-After": {"type": "integer"}}),
}  # fmt: skip
QUERY_ERRORS = {
    422: error("A parameter is missing, unknown, repeated or invalid; `details` names it."),
    503: error("ClickHouse is unavailable."),
}
PATH_ERRORS = {
    **QUERY_ERRORS,
    404: error("No such route: a path parameter that does not form a path of this API, e.g. `..`."),
}
ADMIN_BODY_ERRORS = {
    400: error("The body is not JSON."),
    413: error("The body is over 16 KiB."),
    415: error("The content type is not JSON."),
    422: error("The request is invalid; `details` names the field."),
}
UNSTORED = {
    503: error("Kafka did not store the change, or the process is still reading its keys or rules; retry.")
}
NO_SUCH = {404: error("No such key or rule.")}
NO_GUARD = {404: error("No such guard.")}


def _read(
    path: str, summary: str, params: type[Parameters], answer: Answer, errors: dict[int, Answer]
) -> Route:
    return Route(
        "GET", path, summary, {200: answer, **errors}, params, scope=KeyScope.READ, limit=Limit.REQUESTS
    )


NUMBERS = json("The numbers.", a.data({"type": "object"}))


# Analytics (docs/api.md#analytics): every one takes the window's parameters (`Window`), some more.
class AdoptionQuery(Window):
    target_version: StoredText | None = None


class VersionsQuery(Window):
    segment: Annotated[str, Choice(SEGMENTS)] | None = None


class FailuresQuery(Window):
    group_by: Annotated[str, Choice(GROUP_BY)] = "error_code"


class ReleasesQuery(Window):
    group_by: Annotated[str, Choice(releases.GROUP_BY)] | None = None


class OfVersion(Window):
    version: StoredText  # in the path


Hours = Annotated[int, Whole(1, compare.MAX_HOURS)]


class HealthQuery(OfVersion):
    max_failure_rate: Rate = _HEALTH.max_failure_rate
    max_rollback_rate: Rate = _HEALTH.max_rollback_rate
    min_devices: Annotated[int, Whole(1, MAX_MIN_DEVICES)] = _HEALTH.min_devices
    max_crash_rate: Rate | None = None
    confidence: Flag = _HEALTH.confidence
    baseline: StoredText | None = None
    max_regression: Rate = _HEALTH.max_regression
    hours: Hours = _HEALTH.hours


class CompareQuery(OfVersion):
    baseline: StoredText | None = None
    hours: Hours = compare.DEFAULT_HOURS


class SegmentsQuery(OfVersion):
    by: Annotated[str, Choice(segments.DIMENSIONS)]
    min_devices: Annotated[int, Whole(1, segments.MAX_MIN_DEVICES)] = segments.DEFAULT_MIN_DEVICES


class StabilityQuery(Window):
    version: StoredText | None = None


class MessagesQuery(Window):
    error_code: StoredText | None = None
    target_version: StoredText | None = None
    limit: Annotated[int, Whole(1, failure_messages.MAX_LIMIT)] = failure_messages.DEFAULT_LIMIT


class DeviceEventsQuery(Window):
    device_id: StoredText  # in the path
    limit: Annotated[int, Whole(1, device_events.MAX_LIMIT)] = device_events.DEFAULT_LIMIT


class ExportQuery(Window):
    format: Annotated[str, Choice(LAYOUTS)]
    event_type: Annotated[str, Choice([t.value for t in EventType])] | None = None


ADOPTION = _read("/analytics/adoption", "adoption analytics", AdoptionQuery, NUMBERS, QUERY_ERRORS)
VERSIONS = _read("/analytics/versions", "versions analytics", VersionsQuery, NUMBERS, QUERY_ERRORS)
ACTIVE_DEVICES = _read("/analytics/active-devices", "active-devices analytics", Window, NUMBERS, QUERY_ERRORS)
FAILURES = _read("/analytics/failures", "failures analytics", FailuresQuery, NUMBERS, QUERY_ERRORS)
PERFORMANCE = _read("/analytics/performance", "performance analytics", Window, NUMBERS, QUERY_ERRORS)
RELEASES = _read(
    "/analytics/releases",
    "Per-release rates, adoption curve and time to 50/90 %.",
    ReleasesQuery,
    json("Releases, newest first.", a.data(a.array(a.RELEASE))),
    QUERY_ERRORS,
)
RELEASE_HEALTH = _read(
    "/analytics/releases/{version:.+}/health",
    "A verdict to gate a rollout or a CI job on.",
    HealthQuery,
    json("The verdict and why.", a.data(a.HEALTH)),
    PATH_ERRORS,
)
RELEASE_COMPARE = _read(
    "/analytics/releases/{version:.+}/compare",
    "The release against a baseline, each over its own first hours, with intervals and significance.",
    CompareQuery,
    json("Both sides and the differences of their rates.", a.data(a.COMPARISON)),
    {**QUERY_ERRORS, 404: error("No data for the version in the window, no previous version "
                                 "(`baseline=previous`), or a path parameter that does not form a path of this API.")},
)  # fmt: skip
RELEASE_SEGMENTS = _read(
    "/analytics/releases/{version:.+}/segments",
    "The release's figures per device segment, and the worst segment.",
    SegmentsQuery,
    json("Segments, most devices first.", a.data(a.SEGMENTS)),
    PATH_ERRORS,
)
STABILITY = _read(
    "/analytics/stability",
    "Sessions, crashes and launch durations per running version.",
    StabilityQuery,
    json("Versions, most sessions first.", a.data(a.obj({"versions": a.array(a.STABILITY)}))),
    QUERY_ERRORS,
)
FAILURE_MESSAGES = _read(
    "/analytics/failures/messages",
    "The most frequent failure messages, with samples.",
    MessagesQuery,
    json("Messages, most frequent first.", a.data(a.array(a.MESSAGE))),
    QUERY_ERRORS,
)
DEVICE_EVENTS = _read(
    "/analytics/devices/{device_id:.+}/events",
    "One device's events in the window, newest first, as event objects.",
    DeviceEventsQuery,
    json("Events.", a.data(a.array(a.EVENT))),
    PATH_ERRORS,
)
APPS = _read(
    "/analytics/apps",
    "The tenant's apps with events in the window.",
    Window,
    json("Apps by org_id, then app_id.", a.data(a.array(a.APP))),
    QUERY_ERRORS,
)
EXPORT = _read(
    "/analytics/export",
    "The window's raw events as NDJSON, CSV or Parquet, streamed.",
    ExportQuery,
    Answer("The window's events, streamed; `X-Export-Rows` gives their number.", a.EXPORT_TYPES,
           {"X-Export-Rows": {"type": "integer", "minimum": 0}}),
    {**QUERY_ERRORS, 413: error("More rows than EXPORT_MAX_ROWS; narrow the window, app or event_type.")},
)  # fmt: skip


# Live windows (docs/api.md#live-windows): the app's ids in the path, each matched there (another is a 404).
class LiveIds(Parameters):
    tenant_id: Id
    org_id: Id
    app_id: Id


class LiveWindowsQuery(LiveIds):
    last: Annotated[int, Field(ge=1)] = LIVE_LAST  # bounded when served: `live_windows_query`


def live_windows_query(most: int) -> type[LiveWindowsQuery]:
    """`last` is bounded by the windows retained (tables/live.py `max_last`), known once settings are read."""
    bounded: Any = (Annotated[int, Whole(1, most)], LIVE_LAST)
    return create_model("LiveWindowsQuery", __base__=LiveWindowsQuery, last=bounded)


_ONE_ID = f"{ID_CHARS}{{1,{ID_MAX}}}"
_APP = f"/live/{{tenant_id:{_ONE_ID}}}/{{org_id:{_ONE_ID}}}/{{app_id:{_ONE_ID}}}"
_LIVE_ERRORS = {
    404: error(f"No such route (an id that is not {ID_RULE})."),
    422: error("A bad or unknown parameter."),
    503: error("The worker is starting or rebalancing."),
}
_WINDOWS = json("Windows from the Faust table.", a.data({"type": "object"}))
LIVE_WINDOWS = _read(
    f"{_APP}/windows", "Live windows: the newest windows with data", LiveWindowsQuery, _WINDOWS, _LIVE_ERRORS
)
LIVE_NOW = _read(f"{_APP}/now", "Live windows: the window holding now", LiveIds, _WINDOWS, _LIVE_ERRORS)


# Admin (docs/security.md): keys, alert rules and rollout guards.
class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    scopes: list[KeyScope] = Field(min_length=1, max_length=3)
    org_id: Identifier | None = None
    app_id: Identifier | None = None
    name: str | None = Field(default=None, min_length=1, max_length=128)


class TenantFilter(Parameters):
    tenant_id: Id | None = None


class KeyPath(Parameters):
    key_id: str


class RulePath(Parameters):
    rule_id: str


class GuardPath(Parameters):
    guard_id: str  # unchecked here: a malformed id is a 404, as an unknown one (web/guards_admin.py)


def _admin(
    method: str,
    path: str,
    summary: str,
    answers: dict[int, Answer],
    params: type[Parameters] | None = None,
    body: type[BaseModel] | None = None,
) -> Route:
    content = {"application/json": body} if body is not None else None
    return Route(method, path, summary, answers, params, content, KeyScope.ADMIN, Limit.REQUESTS)


CREATE_KEY = _admin(
    "POST", "/admin/keys", "Create a key; its secret is shown once.",
    {201: json("The new key.", a.data(a.with_property(a.KEY, "key", a.TEXT))), **ADMIN_BODY_ERRORS},
    body=NewKey,
)  # fmt: skip
LIST_KEYS = _admin(
    "GET", "/admin/keys", "List a tenant's keys, without secrets.",
    {200: json("The keys.", a.data(a.array(a.KEY))), 422: ADMIN_BODY_ERRORS[422]}, params=TenantFilter,
)  # fmt: skip
REVOKE_KEY = _admin(
    "DELETE", "/admin/keys/{key_id}", "Revoke a key; every process refuses it within seconds.",
    {200: json("The revoked key.", a.data(a.KEY)), **NO_SUCH}, params=KeyPath,
)  # fmt: skip
CREATE_RULE = _admin(
    "POST", "/admin/alerts", "Create an alert rule; its signing secret is shown once.",
    {201: json("The new rule.", a.data(a.with_property(a.RULE, "secret", a.TEXT))), **ADMIN_BODY_ERRORS,
     **UNSTORED},
    body=NewRule,
)  # fmt: skip
LIST_RULES = _admin(
    "GET", "/admin/alerts", "List a tenant's alert rules, without secrets.",
    {200: json("The rules.", a.data(a.array(a.RULE))), 422: ADMIN_BODY_ERRORS[422], **UNSTORED},
    params=TenantFilter,
)  # fmt: skip
DELETE_RULE = _admin(
    "DELETE", "/admin/alerts/{rule_id}", "Delete an alert rule; no notification follows it.",
    {200: json("The deleted rule.", a.data(a.RULE)), **NO_SUCH, **UNSTORED}, params=RulePath,
)  # fmt: skip
CREATE_GUARD = _admin(
    "POST", "/admin/guards", "Create a rollout guard; its signing secret is shown once.",
    {201: json("The new guard.", a.data(a.with_property(a.GUARD, "secret", a.TEXT))), **ADMIN_BODY_ERRORS,
     **UNSTORED},
    body=NewGuard,
)  # fmt: skip
LIST_GUARDS = _admin(
    "GET", "/admin/guards", "List a tenant's rollout guards, without secrets.",
    {200: json("The guards.", a.data(a.array(a.GUARD))), 422: ADMIN_BODY_ERRORS[422], **UNSTORED},
    params=TenantFilter,
)  # fmt: skip
DELETE_GUARD = _admin(
    "DELETE", "/admin/guards/{guard_id}",
    "Delete a guard with its decisions; a decision not yet delivered is dropped.",
    {200: json("The deleted guard.", a.data(a.GUARD)), 422: ADMIN_BODY_ERRORS[422], **NO_GUARD, **UNSTORED},
    params=GuardPath,
)  # fmt: skip
GUARD_DECISIONS = _admin(
    "GET", "/admin/guards/{guard_id}/decisions",
    "A guard's decisions, oldest first, each with how its delivery went.",
    {200: json("The decisions.", a.data(a.array(a.DECISION))), 422: ADMIN_BODY_ERRORS[422], **NO_GUARD,
     **UNSTORED},
    params=GuardPath,
)  # fmt: skip

# Ingest (docs/ingest.md): the key's bucket is charged per event by the route.
EVENTS = Route(
    "POST", "/events", "Ingest one event (nested or flat form).",
    {202: json("Durably in Kafka.", a.ACCEPTED), **INGEST_ERRORS},
    body={"application/json": a.EVENT}, scope=KeyScope.INGEST, limit=Limit.EVENTS,
)  # fmt: skip
EVENTS_BATCH = Route(
    "POST", "/events/batch", "Ingest up to 1,000 events: a JSON array, or NDJSON.",
    {202: json("Valid events are in Kafka.", a.BATCH_RESULT), **INGEST_ERRORS},
    body={"application/json": {**a.array(a.EVENT), "maxItems": 1000}, "application/x-ndjson": {"type": "string"}},
    scope=KeyScope.INGEST, limit=Limit.EVENTS,
)  # fmt: skip

# Open: they hold no tenant data.
_STATUS = {"type": "object", "required": ["status"]}
HEALTH = Route(
    "GET",
    "/health",
    "Health.",
    {200: json("Healthy or degraded.", _STATUS), 503: json("Unhealthy.", _STATUS)},
)
METRICS = Route("GET", "/metrics", "Prometheus metrics.", {200: Answer("Text format.", {"text/plain": {}})})
OPENAPI = Route("GET", "/openapi.json", "This document.", {200: json("OpenAPI 3.1.", {})}, documented=False)
DASHBOARD = Route("GET", "/dashboard", "The dashboard.", {200: Answer("Its page.")}, documented=False)
DASHBOARD_FILE = Route(
    "GET", "/dashboard/static/{name:.+}", "The dashboard's files.", {200: Answer("A file.")}, documented=False
)

ROUTES: tuple[Route, ...] = (
    EVENTS, EVENTS_BATCH,
    ADOPTION, VERSIONS, ACTIVE_DEVICES, FAILURES, PERFORMANCE,
    RELEASES, RELEASE_HEALTH, RELEASE_COMPARE, RELEASE_SEGMENTS, STABILITY, FAILURE_MESSAGES, DEVICE_EVENTS, APPS,
    EXPORT,
    *CLIENT_ROUTES,
    LIVE_WINDOWS, LIVE_NOW,
    HEALTH, METRICS,
    CREATE_KEY, LIST_KEYS, REVOKE_KEY, CREATE_RULE, LIST_RULES, DELETE_RULE,
    CREATE_GUARD, LIST_GUARDS, DELETE_GUARD, GUARD_DECISIONS,
    OPENAPI, DASHBOARD, DASHBOARD_FILE,
)  # fmt: skip


def served(live_last: int | None) -> tuple[Route, ...]:
    """The routes a worker serves: live windows with `last` bounded (`live_last`), or none when live tables are
    off (None)."""
    if live_last is None:
        return tuple(route for route in ROUTES if route not in (LIVE_WINDOWS, LIVE_NOW))
    windows = LIVE_WINDOWS.with_params(live_windows_query(live_last))
    return tuple(windows if route is LIVE_WINDOWS else route for route in ROUTES)
