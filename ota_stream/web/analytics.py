"""`GET /analytics/*`: run the query on the parameters the route's declaration parsed (web/routes.py), answer
`{"data": ...}`. The guard (web/auth.py) has already put a read key's tenant, org and app into them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

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
from ota_stream.storage.queries.failures import failures
from ota_stream.storage.queries.performance import performance
from ota_stream.storage.queries.versions import versions
from ota_stream.web import routes as r
from ota_stream.web.declare import Route, bind, given
from ota_stream.web.errors import ApiError, json_response
from ota_stream.wire import Pseudonymize

OpenClickHouse = Callable[
    [], Awaitable[ClickHouse]
]  # the connected, migrated client, once ClickHouse answers
Run = Callable[
    [ClickHouse, Any], Awaitable[Any]
]  # the route's parameters (its declaration's model) to its data


async def _adoption(ch: ClickHouse, q: r.AdoptionQuery) -> Any:
    return await adoption(ch, q.scope(), q.target_version)


async def _versions(ch: ClickHouse, q: r.VersionsQuery) -> Any:
    return await versions(ch, q.scope(), q.segment)


async def _active_devices(ch: ClickHouse, q: r.Window) -> Any:
    return await active_devices(ch, q.scope())


async def _failures(ch: ClickHouse, q: r.FailuresQuery) -> Any:
    return await failures(ch, q.scope(), q.group_by)


async def _performance(ch: ClickHouse, q: r.Window) -> Any:
    return await performance(ch, q.scope())


async def _releases(ch: ClickHouse, q: r.ReleasesQuery) -> Any:
    return await releases.releases(ch, q.scope(), q.group_by)


async def _release_health(ch: ClickHouse, q: r.HealthQuery) -> Any:
    limits = release_health.Thresholds(
        q.max_failure_rate,
        q.max_rollback_rate,
        q.min_devices,
        q.max_crash_rate,
        q.baseline,
        q.max_regression,
        q.hours,
        q.confidence,
    )
    return await release_health.health(ch, q.scope(), q.version, limits)


async def _release_compare(ch: ClickHouse, q: r.CompareQuery) -> Any:
    try:
        return await compare.compare(ch, q.scope(), q.version, q.baseline or compare.PREVIOUS, q.hours)
    except compare.NotFound as exc:
        raise ApiError(404, str(exc), [FieldError(exc.field, str(exc))]) from None


async def _release_segments(ch: ClickHouse, q: r.SegmentsQuery) -> Any:
    return await segments.segments(ch, q.scope(), q.version, q.by, q.min_devices)


async def _stability(ch: ClickHouse, q: r.StabilityQuery) -> Any:
    return await stability.stability(ch, q.scope(), q.version)


async def _failure_messages(ch: ClickHouse, q: r.MessagesQuery) -> Any:
    scope = q.scope()
    return await failure_messages.failure_messages(ch, scope, q.error_code, q.target_version, q.limit)


def _device_events(device_ids: Pseudonymize | None) -> Run:
    """Callers name the device by its raw id; with DEVICE_ID_HMAC_KEY it is stored as its pseudonym
    (docs/security.md)."""

    async def run(ch: ClickHouse, q: r.DeviceEventsQuery) -> Any:
        scope = q.scope()
        device_id = device_ids(scope.tenant_id, q.device_id) if device_ids is not None else q.device_id
        return await device_events.device_events(ch, scope, device_id, q.limit)

    return run


async def _apps(ch: ClickHouse, q: r.Window) -> Any:
    return await apps(ch, q.scope())


# (the endpoint label of ota_query_latency_seconds, the route, its query)
QUERIES: tuple[tuple[str, Route, Run], ...] = (
    ("adoption", r.ADOPTION, _adoption),
    ("versions", r.VERSIONS, _versions),
    ("active-devices", r.ACTIVE_DEVICES, _active_devices),
    ("failures", r.FAILURES, _failures),
    ("performance", r.PERFORMANCE, _performance),
    ("releases", r.RELEASES, _releases),
    ("release-health", r.RELEASE_HEALTH, _release_health),
    ("release-compare", r.RELEASE_COMPARE, _release_compare),
    ("release-segments", r.RELEASE_SEGMENTS, _release_segments),
    ("stability", r.STABILITY, _stability),
    ("failure-messages", r.FAILURE_MESSAGES, _failure_messages),
    ("apps", r.APPS, _apps),
)


def routes(storage: OpenClickHouse, device_ids: Pseudonymize | None) -> list[web.RouteDef]:
    """One GET route per analytics query, each timed into ota_query_latency_seconds."""
    every = (*QUERIES, ("device-events", r.DEVICE_EVENTS, _device_events(device_ids)))
    return [_route(storage, name, route, run) for name, route, run in every]


def _route(storage: OpenClickHouse, name: str, route: Route, run: Run) -> web.RouteDef:
    latency = metrics.QUERY_LATENCY.labels(name)  # created now, so every endpoint is exported from the start
    model = route.params
    assert model is not None

    async def answer(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            data = await run(await storage(), given(request, model))
        finally:
            latency.observe(time.perf_counter() - started)
        return json_response({"data": data})

    return bind(route, answer)
