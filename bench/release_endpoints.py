"""Routes for analytics_bench.py beyond adoption and the like: release health, the gate, the drill-down reads, and
stability."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import (
    apps,
    device_events,
    failure_messages,
    release_health,
    releases,
    stability,
)
from ota_stream.storage.queries.scope import QueryScope

Endpoint = Callable[[ClickHouse, QueryScope, bool], Awaitable[Any]]


def release_endpoints(version: str, device_id: str) -> dict[str, Endpoint]:
    """`version` is a release of the measured app for the gate; `device_id` one of its devices. The drill-down
    reads of messages and device events use the raw table only, so their two columns measure the same query."""
    limits = release_health.Thresholds()
    return {
        "releases": lambda ch, s, v: releases.releases(ch, s, use_views=v),
        "releases?group_by=channel": lambda ch, s, v: releases.releases(ch, s, "channel", use_views=v),
        f"releases/{version}/health": lambda ch, s, v: release_health.health(ch, s, version, limits, v),
        "apps": lambda ch, s, v: apps.apps(ch, s, use_views=v),
        "failures/messages": lambda ch, s, v: failure_messages.failure_messages(ch, s),
        "devices/{id}/events": lambda ch, s, v: device_events.device_events(ch, s, device_id),
        "stability": lambda ch, s, v: stability.stability(ch, s, use_views=v),
        f"stability?version={version}": lambda ch, s, v: stability.stability(ch, s, version, use_views=v),
    }
