"""Stability of the running update three ways: from the views, from the raw table alone, and in plain Python.

The events are the release tests' (tests/support/loaded.py): updates, rollouts, and the launches and crashes of the
releases' devices with every odd case of tests/support/stability_scenario.py, plus client retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import stability
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import loaded_database
from tests.support import expected_stability
from tests.support.backfill import backfilled
from tests.support.expected import Window, assert_same, parse
from tests.support.loaded import NOW, WINDOWS, release_events, window_of
from tests.support.scenario import Event, field
from tests.support.stability_scenario import (
    NUL_LOSES,
    NUL_WINS,
    SHARED_VERSION,
    TIE_LOSES,
    TIE_WINS,
    VERSIONS,
)

DIMS = [{}, {"org_id": "mobile"}, {"org_id": "web", "app_id": "chat"}, {"org_id": "mobile", "app_id": "shop"}]


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[ClickHouse, list[Event]]]:
    yield from loaded_database(release_events())


def check(ch: ClickHouse, events: list[Event], scope: QueryScope) -> None:
    """Every figure of the route, of each version filter, and the crash-free counts, from views and from raw."""
    window = window_of(scope)
    for version in (None, "2.1.0", "9.9.9"):
        want = expected_stability.stability(events, window, version)
        for use_views in (False, True):
            got = asyncio.run(stability.stability(ch, scope, version, use_views))
            assert_same(got, want, f"stability {scope} version={version} views={use_views}")
    rates = {row["version"]: row for row in expected_stability.stability(events, window)["versions"]}
    for use_views in (False, True):
        counts = asyncio.run(stability.crash_free(ch, scope, use_views=use_views))
        assert {v: c.rates() for v, c in counts.items()} == {
            v: {k: row[k] for k in ("crash_free_sessions_rate", "crash_free_devices_rate")}
            for v, row in rates.items()
        }
        if "2.1.0" in counts:
            assert asyncio.run(stability.crash_free(ch, scope, "2.1.0", use_views)) == {
                "2.1.0": counts["2.1.0"]
            }


@pytest.mark.parametrize("window", WINDOWS, ids=list(WINDOWS))
@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_stability_three_ways(
    loaded: tuple[ClickHouse, list[Event]], window: str, dims: dict[str, str]
) -> None:
    ch, events = loaded
    start, end = WINDOWS[window]
    for tenant in ("acme", "globex", "initech"):  # initech has no event: no version
        check(ch, events, QueryScope(tenant, start, end, **dims))


def test_the_data_holds_every_case(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """The comparison above means something only if every case occurs in the data."""
    _, events = loaded
    sessions = [e for e in events if e["event_type"] in ("app_launched", "app_crashed")]
    crashes = [e for e in sessions if e["event_type"] == "app_crashed"]
    alone = [e for e in sessions if "session_id" not in e]
    assert any(e["event_type"] == "app_launched" for e in alone) and any(
        e["event_type"] == "app_crashed" for e in alone
    )
    assert any("event_id" not in e for e in alone)
    per_session: dict[tuple[str, str, str], list[Event]] = {}
    for e in crashes:
        if "session_id" in e:
            per_session.setdefault((e["tenant_id"], e["device_id"], e["session_id"]), []).append(e)
    twice = [c for c in per_session.values() if len({e["event_id"] for e in c}) > 1]
    assert any(
        len({(field(e, "error_code", "error_info"), field(e, "error_message", "error_info")) for e in c}) == 1
        for c in twice
    )
    assert any(
        len({(field(e, "error_code", "error_info"), field(e, "error_message", "error_info")) for e in c}) > 1
        for c in twice
    )
    launched = {
        (e["tenant_id"], e["device_id"], e.get("session_id"))
        for e in sessions
        if e["event_type"] == "app_launched"
    }
    assert any(
        (e["tenant_id"], e["device_id"], e["session_id"]) not in launched
        for e in crashes
        if "session_id" in e
    )
    unversioned = [e for e in crashes if field(e, "current_version", "release_info") is None]
    assert any("session_id" in e for e in unversioned) and any("session_id" not in e for e in unversioned)
    assert any(field(e, "error_code", "error_info") is None for e in crashes)
    assert any(field(e, "error_message", "error_info") == "" for e in crashes)
    assert any("launch_duration_seconds" in e for e in sessions) and any(
        "performance_metrics" in e for e in sessions
    )
    assert any(field(e, "launch_duration_seconds", "performance_metrics") == 0.0 for e in sessions)
    times = sorted(parse(e["timestamp"]) for e in sessions)
    assert times[0] < WINDOWS["last 30 days"][0] and times[-1] > NOW
    assert len(events) > len({(e["tenant_id"], e.get("event_id", id(e))) for e in events})  # client retries
    full = expected_stability.stability(events, Window("acme", *WINDOWS["a year"]))["versions"]
    assert {row["version"] for row in full} == {*VERSIONS, TIE_WINS, NUL_WINS, SHARED_VERSION}
    assert any(len(row["top_crashes"]) == 5 for row in full) and any(
        0 < len(row["top_crashes"]) < 5 for row in full
    )
    assert any(0 < row["crash_free_devices_rate"] < row["crash_free_sessions_rate"] < 100 for row in full)


def test_written_out_cases(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """Hand-checked answers: a tie goes to the smaller event_id, a NUL byte in it included; one device id and
    session id in two apps of a tenant are two sessions of one device, and the other tenant's are its own."""
    ch, _ = loaded
    for use_views in (False, True):
        got = asyncio.run(
            stability.stability(ch, QueryScope("acme", *WINDOWS["a year"]), use_views=use_views)
        )
        rows = {row["version"]: row for row in got["versions"]}
        assert TIE_LOSES not in rows and NUL_LOSES not in rows
        assert rows[NUL_WINS]["sessions"] == 1
        assert (rows[TIE_WINS]["sessions"], rows[TIE_WINS]["crashed_sessions"]) == (1, 1)
        assert rows[TIE_WINS]["top_crashes"] == [
            {"error_code": "JS_FATAL", "error_message": "unknown", "sessions": 1, "devices": 1}
        ]
        shared = rows[SHARED_VERSION]
        assert [shared[k] for k in ("sessions", "crashed_sessions", "devices", "crashed_devices")] == [
            2,
            1,
            1,
            1,
        ]
        assert (shared["crash_free_sessions_rate"], shared["crash_free_devices_rate"]) == (50.0, 0.0)
        other = asyncio.run(
            stability.stability(ch, QueryScope("globex", *WINDOWS["a year"]), SHARED_VERSION, use_views)
        )
        assert [(r["sessions"], r["crashed_sessions"]) for r in other["versions"]] == [(1, 1)]


def test_session_view_added_to_a_database_with_data_is_backfilled(tmp_path: Path) -> None:
    """Migration 011 on a database that already holds launches and crashes: the backfill, then the view as events
    keep coming, agree with the raw table and with Python."""
    applied = backfilled(tmp_path, lambda m: m.name == "sessions", check)
    assert [m.name for m in applied] == ["sessions"]
