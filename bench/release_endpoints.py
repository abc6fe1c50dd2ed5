"""The spec §9 routes for analytics_bench.py: release health, the gate, and the drill-down reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import apps, device_events, failure_messages, release_health, releases
from ota_stream.storage.queries.scope import Scope

Endpoint = Callable[[ClickHouse, Scope, bool], Awaitable[Any]]


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
    }
