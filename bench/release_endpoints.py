"""Routes for analytics_bench.py beyond adoption and the like: release health, the gate, the drill-down reads,
stability, and the release decisions (compare, segments, the gate against a baseline)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import (
    apps,
    compare,
    device_events,
    failure_messages,
    release_health,
    releases,
    segments,
    stability,
)
from ota_stream.storage.queries.scope import QueryScope

Endpoint = Callable[[ClickHouse, QueryScope, bool], Awaitable[Any]]


def release_endpoints(version: str, device_id: str) -> dict[str, Endpoint]:
    """`version` is a release of the measured app for the gate; `device_id` one of its devices. A device's events
    are read from the raw table only, so its two columns measure the same query."""
    limits = release_health.Thresholds()
    against_previous = release_health.Thresholds(baseline=compare.PREVIOUS, confidence=True)
    return {
        "releases": lambda ch, s, v: releases.releases(ch, s, use_views=v),
        "releases?group_by=channel": lambda ch, s, v: releases.releases(ch, s, "channel", use_views=v),
        f"releases/{version}/health": lambda ch, s, v: release_health.health(ch, s, version, limits, v),
        "apps": lambda ch, s, v: apps.apps(ch, s, use_views=v),
        "failures/messages": lambda ch, s, v: failure_messages.failure_messages(ch, s, use_views=v),
        "devices/{id}/events": lambda ch, s, v: device_events.device_events(ch, s, device_id),
        "stability": lambda ch, s, v: stability.stability(ch, s, use_views=v),
        f"stability?version={version}": lambda ch, s, v: stability.stability(ch, s, version, use_views=v),
        f"releases/{version}/compare": lambda ch, s, v: compare.compare(ch, s, version, use_views=v),
        f"releases/{version}/segments?by=device_os_version": lambda ch, s, v: segments.segments(
            ch, s, version, "device_os_version", use_views=v
        ),
        f"releases/{version}/segments?by=channel": lambda ch, s, v: segments.segments(
            ch, s, version, "channel", use_views=v
        ),
        f"releases/{version}/health?baseline=previous&confidence=true": lambda ch, s, v: (
            release_health.health(ch, s, version, against_previous, v)
        ),
    }


# The routes whose p95 must stay at or below the release list's in the same run (RESULTS.md, Targets).
BELOW_RELEASES = ("stability", "/compare", "/segments?by=device_os_version", "/segments?by=channel")
