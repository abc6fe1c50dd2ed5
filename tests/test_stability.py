"""Stability of the running update three ways: from the views, from the raw table alone, and in plain Python.

The events are the release tests' (tests/support/loaded.py): updates, rollouts, and the launches and crashes of the
releases' devices with every odd case of tests/support/stability_scenario.py, plus client retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import releases, stability
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.writer import EventWriter
from tests.conftest import drop_database, loaded_database, open_database
from tests.support import expected_stability
from tests.support.backfill import backfilled
from tests.support.expected import Window, assert_same, parse
from tests.support.expected_stability import by_version
from tests.support.loaded import NOW, WINDOWS, release_events, window_of
from tests.support.rows import rows
from tests.support.scenario import Event, field, rfc3339
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
    """Migration 011 (and 014, which adds to its table) on a database that already holds launches and crashes: the
    backfill, then the view as events keep coming, agree with the raw table and with Python."""
    applied = backfilled(tmp_path, lambda m: m.name in ("sessions", "session_keys"), check)
    assert [m.name for m in applied] == ["sessions", "session_keys"]


def test_session_keys_added_to_a_view_with_data(tmp_path: Path) -> None:
    """Migration 014 on a session view that already holds rows: the keys of those rows (from their `first`
    strings), then of the rows the view adds, agree with the raw table and with Python."""
    applied = backfilled(tmp_path, lambda m: m.name == "session_keys", check)
    assert [m.name for m in applied] == ["session_keys"]


def test_a_tie_across_two_inserts(tmp_path: Path) -> None:
    """Two rows of one session in one hour, not merged yet, whose earliest events share a millisecond under two
    versions: the fixed-width keys cannot order them (schema/014_session_keys.sql), so the statement counts them as
    unresolved, the versions are read from the event_ids, and every figure stays exact, from the views as from
    raw."""
    at = NOW - timedelta(days=1, hours=2)
    base = {"tenant_id": "acme", "org_id": "mobile", "app_id": "shop", "device_id": "split-device",
            "timestamp": rfc3339(at)}  # fmt: skip

    def event(session: str, event_id: str, event_type: str, version: str) -> Event:
        return {**base, "session_id": session, "event_id": event_id, "event_type": event_type,
                "release_info": {"current_version": version}}  # fmt: skip

    early, late = "4.0.0-split-a", "4.0.0-split-b"
    first_insert = [
        event("s-one", "one-b", "app_launched", late),  # loses to the crash's smaller event_id
        event("s-two", "two-a", "app_launched", late),  # wins over the second insert's "two-b"
        *({**base, "event_id": f"u-{v}", "event_type": "update_installed",
           "release_info": {"current_version": "3.9.0", "target_version": v}} for v in (early, late)),
    ]  # fmt: skip
    second_insert = [
        event("s-one", "one-a", "app_crashed", early),
        event("s-two", "two-b", "app_launched", early),
    ]
    ch = open_database()
    try:
        for batch in (first_insert, second_insert):
            asyncio.run(
                EventWriter(ch).write(rows(batch, offset=0 if batch is first_insert else 10, now=NOW))
            )
        (parts,) = ch.query_rows(
            "SELECT count() FROM session_hourly WHERE device = cityHash64('split-device')"
        )
        assert parts == (4,), "the two inserts' rows are not merged: each session has two"
        events = first_insert + second_insert
        scope = QueryScope("acme", *WINDOWS["last 30 days"])
        sql, params = stability.sessions_sql(scope.hybrid("hour"), None, ["crashed"])
        counted = ch.query_rows(stability.COUNTS.format(sessions=sql), params)
        assert sum(row[-1] for row in counted) == 2, (
            "both sessions are unresolved ties before their versions are read"
        )
        check(ch, events, scope)
        grouped = by_version(events, window_of(scope))
        assert sorted(grouped) == [early, late]
        starts = {
            v: int(min(s.first[0] for s in mine if s.first).timestamp() * 1000) for v, mine in grouped.items()
        }
        for use_views in (False, True):
            assert asyncio.run(stability.first_sessions(ch, scope, None, use_views)) == starts
            assert asyncio.run(stability.first_sessions(ch, scope, early, use_views)) == {
                early: starts[early]
            }
            side, _ = asyncio.run(stability.of_version(ch, scope, early, use_views))
            assert (side.sessions, side.crashed) == (1, 1)
            listed = {r["version"]: r for r in asyncio.run(releases.releases(ch, scope, use_views=use_views))}
            for version in (early, late):
                rates = expected_stability.crash_free(events, window_of(scope), version)
                assert {k: listed[version][k] for k in rates} == rates
    finally:
        drop_database(ch)
