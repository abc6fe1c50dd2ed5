"""Every analytics number, three ways: from the views, from the raw table alone, and in plain Python.

Runs on real embedded ClickHouse with data written by the real writer (duplicates included), for windows whose
edges fall inside buckets, on bucket edges, and inside a single hour.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.migrations import discover, migrate
from ota_stream.storage.queries import active_devices, adoption, failures, performance, releases, versions
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import drop_database, open_database
from tests.support import expected, expected_releases
from tests.support.expected import Window, assert_same
from tests.support.loaded import NOW, WINDOWS, write
from tests.support.scenario import Event, Scenario, with_duplicates
from tests.support.three_ways import Query, check


def scenario() -> list[Event]:
    events = Scenario(now=NOW, devices_per_app=12, seed=11, activity=True).build()
    return with_duplicates(events, random.Random(5))


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[ClickHouse, list[Event]]]:
    ch = open_database()
    events = scenario()
    write(ch, events)
    yield ch, events
    drop_database(ch)


@pytest.mark.parametrize("window", WINDOWS, ids=list(WINDOWS))
@pytest.mark.parametrize("dims", [{}, {"org_id": "mobile"}, {"org_id": "web", "app_id": "chat"}], ids=str)
def test_every_endpoint_three_ways(
    loaded: tuple[ClickHouse, list[Event]], window: str, dims: dict[str, str]
) -> None:
    ch, events = loaded
    start, end = WINDOWS[window]
    for tenant in ("acme", "globex"):
        check(ch, events, QueryScope(tenant, start, end, **dims))


def test_the_scenario_exercises_every_number(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, _ = loaded
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW)
    got = asyncio.run(failures.failures(ch, scope, "failure_stage"))
    assert got["total_failures"] > 3 and any(row["key"] == "unknown" for row in got["breakdown"])
    perf = asyncio.run(performance.performance(ch, scope))
    assert perf["download_speed_mbps"]["samples"] > 10 and len(perf["daily"]) > 5
    spread = asyncio.run(versions.versions(ch, scope))
    assert len(spread["versions"]) == 3
    devices = asyncio.run(active_devices.active_devices(ch, scope))
    assert devices["total_active_devices"] < sum(d["active_devices"] for d in devices["daily_active_devices"])


ACTIVITY = ("app_launched", "update_checked")


@pytest.mark.parametrize("use_views", [True, False], ids=["views", "raw"])
def test_activity_counts_as_activity_and_never_as_an_update(
    loaded: tuple[ClickHouse, list[Event]], use_views: bool
) -> None:
    """`app_launched` and `update_checked` (docs/events.md): in active devices and current versions, in no update
    figure. The update figures equal those of the same events without any activity event; the activity figures
    do not."""
    ch, events = loaded
    updates_only = [e for e in events if e["event_type"] not in ACTIVITY]
    assert len(updates_only) < len(events) - 100  # the scenario has activity
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW)
    window = Window("acme", scope.start, scope.end)

    def run(query: Query, *args: Any) -> Any:
        return asyncio.run(query(ch, scope, *args, use_views=use_views))

    assert_same(run(adoption.adoption), expected.adoption(updates_only, window))
    for group_by in ("error_code", "failure_stage", "target_version"):
        assert_same(run(failures.failures, group_by), expected.failures(updates_only, window, group_by))
    assert_same(run(performance.performance), expected.performance(updates_only, window))
    # Releases read update events only; their adoption curves share the window's active devices, activity included.
    assert_same(run(releases.releases), expected_releases.releases(events, window))
    got_devices = run(active_devices.active_devices)
    assert_same(got_devices, expected.active_devices(events, window))
    assert (
        got_devices["total_active_devices"]
        > expected.active_devices(updates_only, window)["total_active_devices"]
    )
    got_versions = run(versions.versions)
    assert_same(got_versions, expected.versions(events, window))
    assert got_versions["total_devices"] > expected.versions(updates_only, window)["total_devices"]


def test_tenants_see_only_their_own_data(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, _ = loaded
    scope = QueryScope("initech", NOW - timedelta(days=365), NOW)
    assert asyncio.run(adoption.adoption(ch, scope))["total_updates"] == 0
    assert asyncio.run(versions.versions(ch, scope)) == {"versions": [], "total_devices": 0}
    assert asyncio.run(active_devices.active_devices(ch, scope))["total_active_devices"] == 0


def test_views_added_to_a_database_with_data_are_backfilled(tmp_path: Path) -> None:
    """Apply only the raw table and what the sink writes to, write, then the view migrations: the backfill and
    the views agree with raw."""
    staged = [
        m
        for m in discover()
        if m.name in ("events_raw", "event_keys", "event_positions", "sink_blocks", "launch_duration")
    ]
    rest = [m for m in discover() if m not in staged]
    for migration in staged:
        shutil.copy(
            Path(__file__).resolve().parents[1] / "schema" / f"{migration.version:03d}_{migration.name}.sql",
            tmp_path,
        )
    ch = open_database(tmp_path)
    try:
        events = scenario()
        old, new = events[: len(events) // 2], events[len(events) // 2 :]
        write(ch, old)
        assert {r[0] for r in ch.query_rows("SHOW TABLES")} >= {"ota_events_raw"}
        applied = migrate(ch, retention_days=365)
        assert [m.version for m in applied] == [m.version for m in rest]
        scope = QueryScope("acme", NOW - timedelta(days=365), NOW + timedelta(hours=23))
        check(ch, old, scope)
        write(ch, new)  # after the migration, the views take new rows as they come
        check(ch, events, scope)
    finally:
        drop_database(ch)
