"""`GET /analytics/*`: parse the scope, run the query, answer `{"data": ...}`.

Every route gets its tenant scope from `authorized_scope`, the one place where a read key's tenant is to be
checked against the request (docs/security.md) once keys exist.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from faust import App
from faust.web import View

from ota_stream import metrics
from ota_stream.models import FieldError
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import (
    compare,
    device_events,
    failure_messages,
    release_health,
    releases,
    segments,
    stability,
)
from ota_stream.storage.queries.active_devices import active_devices
from ota_stream.storage.queries.adoption import adoption
from ota_stream.storage.queries.apps import apps
from ota_stream.storage.queries.failures import GROUP_BY, failures
from ota_stream.storage.queries.performance import performance
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.queries.versions import SEGMENTS, versions
from ota_stream.web import params
from ota_stream.web.errors import ApiError, invalid, json_response
from ota_stream.wire import Pseudonymize

OpenClickHouse = Callable[
    [], Awaitable[ClickHouse]
]  # the connected, migrated client, once ClickHouse answers
Run = Callable[[ClickHouse, QueryScope, web.Request], Awaitable[Any]]


def authorized_scope(request: web.Request, extra: Collection[str] = ()) -> QueryScope:
    """The tenant scope and window of a request. Read keys (docs/security.md) are to check the tenant here."""
    return params.scope(request.query, extra)


@dataclass(frozen=True)
class Route:
    name: str  # the endpoint label of ota_query_latency_seconds
    path: str
    extra: frozenset[str]  # parameters beyond tenant, org, app and the window
    run: Run


def route(name: str, path: str, *extra: str) -> Callable[[Run], Route]:
    def wrap(run: Run) -> Route:
        return Route(name, path, frozenset(extra), run)

    return wrap


@route("adoption", "/analytics/adoption", "target_version")
async def _adoption(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await adoption(ch, scope, params.text(request.query, "target_version"))


@route("versions", "/analytics/versions", "segment")
async def _versions(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await versions(ch, scope, params.choice(request.query, "segment", SEGMENTS, None))


@route("active-devices", "/analytics/active-devices")
async def _active_devices(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await active_devices(ch, scope)


@route("failures", "/analytics/failures", "group_by")
async def _failures(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    group_by = params.choice(request.query, "group_by", GROUP_BY, "error_code")
    assert group_by is not None
    return await failures(ch, scope, group_by)


@route("performance", "/analytics/performance")
async def _performance(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await performance(ch, scope)


@route("releases", "/analytics/releases", "group_by")
async def _releases(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    group_by = params.choice(request.query, "group_by", releases.GROUP_BY, None)
    return await releases.releases(ch, scope, group_by)


@route(
    "release-health",
    "/analytics/releases/{version:.+}/health",
    *release_health.PARAMETERS,
    *release_health.DECISION_PARAMETERS,
)
async def _release_health(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    version = params.path_text(request.match_info["version"], "version")
    query, defaults = request.query, release_health.Thresholds()
    limits = release_health.Thresholds(
        params.percentage(query, "max_failure_rate", defaults.max_failure_rate),
        params.percentage(query, "max_rollback_rate", defaults.max_rollback_rate),
        params.integer(query, "min_devices", 1, release_health.MAX_MIN_DEVICES, defaults.min_devices),
        params.percentage(query, "max_crash_rate", None),
        params.text(query, "baseline"),
        params.percentage(query, "max_regression", defaults.max_regression),
        _hours(query),
        params.flag(query, "confidence"),
    )
    return await release_health.health(ch, scope, version, limits)


def _hours(query: Mapping[str, str]) -> int:
    """Each side's hours in a comparison (/compare, and the gate against a baseline)."""
    return params.integer(query, "hours", 1, compare.MAX_HOURS, compare.DEFAULT_HOURS)


@route("release-compare", "/analytics/releases/{version:.+}/compare", "baseline", "hours")
async def _release_compare(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    version = params.path_text(request.match_info["version"], "version")
    baseline = params.text(request.query, "baseline") or compare.PREVIOUS
    try:
        return await compare.compare(ch, scope, version, baseline, _hours(request.query))
    except compare.NotFound as exc:
        raise ApiError(404, str(exc), [FieldError(exc.field, str(exc))]) from None


@route("release-segments", "/analytics/releases/{version:.+}/segments", "by", "min_devices")
async def _release_segments(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    version = params.path_text(request.match_info["version"], "version")
    query = request.query
    if "by" not in query:
        raise invalid("by", f"is required: one of {', '.join(sorted(segments.DIMENSIONS))}")
    by = params.choice(query, "by", segments.DIMENSIONS, None)
    assert by is not None
    least = params.integer(query, "min_devices", 1, segments.MAX_MIN_DEVICES, segments.DEFAULT_MIN_DEVICES)
    return await segments.segments(ch, scope, version, by, least)


@route("stability", "/analytics/stability", "version")
async def _stability(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await stability.stability(ch, scope, params.text(request.query, "version"))


@route("failure-messages", "/analytics/failures/messages", "error_code", "target_version", "limit")
async def _failure_messages(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    query = request.query
    limit = params.integer(query, "limit", 1, failure_messages.MAX_LIMIT, failure_messages.DEFAULT_LIMIT)
    code, version = params.text(query, "error_code"), params.text(query, "target_version")
    return await failure_messages.failure_messages(ch, scope, code, version, limit)


def _device_events(device_ids: Pseudonymize | None) -> Route:
    """Callers name the device by its raw id; with DEVICE_ID_HMAC_KEY it is stored as its pseudonym
    (docs/security.md)."""

    @route("device-events", "/analytics/devices/{device_id:.+}/events", "limit")
    async def run(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
        device_id = params.path_text(request.match_info["device_id"], "device_id")
        if device_ids is not None:
            device_id = device_ids(scope.tenant_id, device_id)
        limit = params.integer(
            request.query, "limit", 1, device_events.MAX_LIMIT, device_events.DEFAULT_LIMIT
        )
        return await device_events.device_events(ch, scope, device_id, limit)

    return run


@route("apps", "/analytics/apps")
async def _apps(ch: ClickHouse, scope: QueryScope, request: web.Request) -> Any:
    return await apps(ch, scope)


ROUTES = (
    _adoption,
    _versions,
    _active_devices,
    _failures,
    _performance,
    _releases,
    _release_health,
    _release_compare,
    _release_segments,
    _stability,
    _failure_messages,
    _apps,
)


def register(app: App, storage: OpenClickHouse, device_ids: Pseudonymize | None) -> None:
    """One GET view per analytics route, each timed into ota_query_latency_seconds."""
    for one in (*ROUTES, _device_events(device_ids)):
        _register_one(app, storage, one)


def _register_one(app: App, storage: OpenClickHouse, one: Route) -> None:
    latency = metrics.QUERY_LATENCY.labels(
        one.name
    )  # created now, so every endpoint is exported from the start

    @app.page(one.path, name=f"analytics_{one.name.replace('-', '_')}")
    class Analytics(View):
        async def get(self, request: web.Request, **path: str) -> web.Response:
            started = time.perf_counter()
            try:
                scope = authorized_scope(request, one.extra)
                data = await one.run(await storage(), scope, request)
            finally:
                latency.observe(time.perf_counter() - started)
            return json_response({"data": data})
