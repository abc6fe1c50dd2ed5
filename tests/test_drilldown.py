"""Drill-down (docs/api.md#analytics): apps three ways, failure messages and one device's events against plain Python.

Apps and failure messages come from views merged with raw edges, so they are checked from the views, from the raw
table alone and in Python; device events read the raw table only, so they are checked against Python.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.apps import apps
from ota_stream.storage.queries.device_events import device_events
from ota_stream.storage.queries.failure_messages import failure_messages
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import loaded_database
from tests.support import expected_drilldown
from tests.support.backfill import backfilled
from tests.support.expected import assert_same
from tests.support.loaded import WINDOWS, drilldown_events, window_of
from tests.support.scenario import Event

DIMS = [{}, {"org_id": "mobile"}, {"org_id": "web", "app_id": "chat"}]


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[ClickHouse, list[Event]]]:
    yield from loaded_database(drilldown_events())


def scopes() -> Iterator[QueryScope]:
    for start, end in WINDOWS.values():
        for dims in DIMS:
            for tenant in ("acme", "globex"):
                yield QueryScope(tenant, start, end, **dims)


def test_apps_three_ways(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, events = loaded
    for scope in scopes():
        want = expected_drilldown.apps(events, window_of(scope))
        assert_same(asyncio.run(apps(ch, scope, use_views=False)), want, f"apps {scope} (raw)")
        assert_same(asyncio.run(apps(ch, scope, use_views=True)), want, f"apps {scope} (views)")


def test_failure_messages(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, events = loaded
    filters: list[dict[str, str | int]] = [
        {},
        {"limit": 2},
        {"error_code": "E_NETWORK"},
        {"error_code": "unknown"},
        {"target_version": "2.1.0", "limit": 100},
        {"target_version": "unknown"},
    ]
    for scope in scopes():
        for kwargs in filters:
            want = expected_drilldown.failure_messages(events, window_of(scope), **kwargs)  # type: ignore[arg-type]
            for use_views in (False, True):
                got = asyncio.run(failure_messages(ch, scope, **kwargs, use_views=use_views))  # type: ignore[arg-type]
                assert_same(got, want, f"messages {scope} {kwargs} views={use_views}")
    busiest = asyncio.run(failure_messages(ch, QueryScope("acme", *WINDOWS["a year"]), limit=100))
    assert len(busiest) > 5 and any(m["error_code"] == "unknown" for m in busiest)
    assert any(m["error_message"] == "unknown" for m in busiest) and max(m["count"] for m in busiest) > 3
    assert any(len(m["samples"]) == 3 for m in busiest)


def test_message_view_added_to_a_database_with_data_is_backfilled(tmp_path: Path) -> None:
    """Migration 012 on a database that already holds failures: the backfill, then the view as events keep coming,
    agree with the raw table and with Python."""

    checked: list[int] = []  # messages compared per check

    def check(ch: ClickHouse, sent: list[Event], scope: QueryScope) -> None:
        for kwargs in ({"limit": 100}, {"target_version": "2.1.0"}):
            want = expected_drilldown.failure_messages(sent, window_of(scope), **kwargs)
            for use_views in (False, True):
                got = asyncio.run(failure_messages(ch, scope, **kwargs, use_views=use_views))
                assert_same(got, want, f"messages {scope} {kwargs} views={use_views}")
            checked.append(len(want))

    applied = backfilled(tmp_path, lambda m: m.name == "failure_messages", check, drilldown_events())
    assert [m.name for m in applied] == ["failure_messages"]
    assert checked[0] > 5 and checked[-4] > 5, (
        "the year's window holds messages before and after the migration"
    )


def test_device_events(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, events = loaded
    devices = sorted({e["device_id"] for e in events if e["tenant_id"] == "acme"})
    for scope in scopes():
        for device in devices[:: max(1, len(devices) // 12)]:
            for limit in (100, 3):
                want = expected_drilldown.device_events(events, window_of(scope), device, limit)
                got = asyncio.run(device_events(ch, scope, device, limit))
                assert_same(got, want, f"device {device} {scope} limit {limit}")
    # Every optional field comes back where docs/events.md puts it, with the value sent.
    rich = next(e for e in events if "metadata" in e and e["tenant_id"] == "acme")
    scope = QueryScope("acme", *WINDOWS["a year"])
    got = asyncio.run(device_events(ch, scope, rich["device_id"], 1000))
    stored = next(e for e in got if e["event_id"] == rich["event_id"])
    assert stored["release_info"]["rollout_percentage"] == 12.3
    assert stored["performance_metrics"]["package_size_bytes"] == 2**53 + 1
    assert stored["metadata"] == {"build": "1234", "note": "héllo, wörld"}
    assert asyncio.run(device_events(ch, QueryScope("globex", *WINDOWS["a year"]), rich["device_id"])) == []
