"""Release decisions three ways (compare, segments): from the views, from the raw table alone, and in plain Python
(tests/support/expected_decisions.py); the Wilson interval and the z test against hand-computed values.

The events are the drill-down tests' (the release rollouts with every optional field on a share of them, launches
and crashes) and the written-out cases of tests/support/decision_scenario.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import asdict, astuple, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ota_stream.guards import engine
from ota_stream.guards import rules as guard_rules
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import compare, release_health, segments, stability
from ota_stream.storage.queries.confidence import Proportion, significant, wilson, z_statistic
from ota_stream.storage.queries.release_health import Thresholds
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import loaded_database
from tests.support import decision_scenario as case
from tests.support import expected_decisions, expected_releases
from tests.support.backfill import backfilled
from tests.support.expected import assert_same
from tests.support.expected_releases import UPDATES
from tests.support.loaded import NOW, WINDOWS, drilldown_events, window_of
from tests.support.scenario import Event, field, rfc3339

DIMS = [{}, {"org_id": "mobile", "app_id": "shop"}]
# Per tenant, (version, baseline) to compare: the previous one, a named one, the release itself, one without data,
# a missing release, a version seen only through sessions; and the releases to split into segments.
COMPARISONS = {
    "acme": [("2.2.0", "previous"), ("2.1.0", "previous"), ("2.2.0-beta", "previous"), ("2.0.0", "previous"),
             ("2.2.0", "2.0.0"), ("2.1.0", "2.1.0"), ("2.2.0", "9.9.9"), ("9.9.9", "previous"),
             ("1.9.0", "previous")],
    "globex": [("2.2.0", "previous"), ("2.1.0", "2.2.0-beta")],
    case.TENANT: [(case.NEW, "previous"), (case.OLD, "previous"), (case.NEW, case.OLD),
                  (case.LATER, "previous"), (case.SPANNING, case.LATER)],
}  # fmt: skip
SEGMENTED = {"acme": ("2.1.0", "2.2.0-beta", "9.9.9"), "globex": ("2.2.0",), case.TENANT: (case.NEW,)}
MIN_DEVICES = (1, 2, 3, 20)


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[ClickHouse, list[Event]]]:
    yield from loaded_database(drilldown_events() + case.decision_events(NOW))


# ---- intervals and the z test, by hand ----


def test_wilson_against_hand_computed_values() -> None:
    # 8/10: centre (0.8 + 0.19207) / 1.38415 = 0.71674, half 1.959964 * 0.16001 / 1.38415 = 0.22658
    assert wilson(8, 10) == (49.02, 94.33)
    assert wilson(0, 10) == (
        0.0,
        27.75,
    )  # the rule of three's neighbour: nothing seen, up to 27.75 % possible
    assert wilson(10, 10) == (72.25, 100.0)
    assert wilson(1, 2) == (9.45, 90.55)
    assert wilson(500, 1000) == (46.91, 53.09)
    assert wilson(0, 0) == (0.0, 100.0)  # nothing to count: the whole range
    assert Proportion(3, 4).complement().interval == [
        round(100 - x, 2) for x in reversed(Proportion(3, 4).interval)
    ]


def test_z_test_against_hand_computed_values() -> None:
    # 45/50 against 35/50: pooled 0.8, se sqrt(0.16 * 0.04) = 0.08, z = 0.2 / 0.08 = 2.5
    assert z_statistic(45, 50, 35, 50) == pytest.approx(2.5)
    assert significant(45, 50, 35, 50) and significant(35, 50, 45, 50)
    # 40/50 against 35/50: pooled 0.75, se sqrt(0.1875 * 0.04) = 0.0866, z = 1.1547
    assert z_statistic(40, 50, 35, 50) == pytest.approx(1.1547, abs=1e-4)
    assert not significant(40, 50, 35, 50)
    assert z_statistic(5, 5, 7, 7) is None and not significant(5, 5, 7, 7)  # pooled 1: nothing differs
    assert z_statistic(1, 0, 1, 3) is None and not significant(3, 3, 0, 0)  # a denominator of 0


# ---- compare ----


def check_compare(ch: ClickHouse, events: list[Event], scope: QueryScope, version: str, baseline: str) -> Any:
    want = expected_decisions.compare(events, window_of(scope), version, baseline)
    for use_views in (False, True):
        call = compare.compare(ch, scope, version, baseline, use_views=use_views)
        if want is None:
            with pytest.raises(compare.NotFound):
                asyncio.run(call)
        else:
            assert_same(asyncio.run(call), want, f"compare {version} {baseline} {scope} views={use_views}")
    return want


@pytest.mark.parametrize("window", WINDOWS, ids=list(WINDOWS))
@pytest.mark.parametrize("dims", DIMS, ids=str)
def test_compare_three_ways(
    loaded: tuple[ClickHouse, list[Event]], window: str, dims: dict[str, str]
) -> None:
    ch, events = loaded
    start, end = WINDOWS[window]
    for tenant, comparisons in COMPARISONS.items():
        scope = QueryScope(tenant, start, end, **dims)
        for version, baseline in comparisons:
            check_compare(ch, events, scope, version, baseline)


def test_compare_hours(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, events = loaded
    scope = QueryScope("acme", *WINDOWS["a year"], "mobile", "shop")
    for hours in (1, 7, 720):
        want = expected_decisions.compare(events, window_of(scope), "2.1.0", "previous", hours)
        got = asyncio.run(compare.compare(ch, scope, "2.1.0", hours=hours))
        assert_same(got, want, f"hours={hours}")


def test_compare_written_out(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """Read off decision_scenario by hand: a previous version seen only through sessions, each side over its own
    first 24 hours, a significant crash difference, a baseline without data, and no previous at all."""
    ch, _ = loaded
    scope = QueryScope(case.TENANT, NOW - timedelta(days=30), NOW, case.ORG, case.APP)
    got = asyncio.run(compare.compare(ch, scope, case.NEW))
    release, baseline = got["release"], got["baseline"]
    assert (release["version"], baseline["version"]) == (case.NEW, case.OLD)
    assert release["first_seen"] == rfc3339(NOW - timedelta(days=3))
    assert baseline["first_seen"] == rfc3339(NOW - timedelta(days=5))  # its first session: no update event
    assert (release["devices_attempted"], release["install_success_rate"]) == (4, 50.0)
    assert release["install_success_rate_interval"] == list(wilson(2, 4))
    assert (release["crash_free_sessions_rate"], baseline["crash_free_sessions_rate"]) == (50.0, 100.0)
    assert (release["crash_free_devices_rate"], baseline["crash_free_devices_rate"]) == (50.0, 100.0)
    assert baseline["crash_free_sessions_rate_interval"] == list(wilson(30, 30))  # the late 30 are outside
    assert got["deltas"]["crash_free_sessions_rate"] == {"difference": -50.0, "significant": True}
    assert got["deltas"]["install_success_rate"] == {
        "difference": 50.0,
        "significant": False,
    }  # 2/4 against 0/0
    empty = asyncio.run(compare.compare(ch, scope, case.NEW, "9.9.9"))["baseline"]
    assert empty["first_seen"] is None and empty["devices_attempted"] == 0
    assert empty["rollback_rate_interval"] == [0.0, 100.0] and empty["launch_duration_seconds_p50"] is None
    with pytest.raises(compare.NotFound, match="no previous"):
        asyncio.run(compare.compare(ch, scope, case.OLD))
    span = NOW.replace(minute=55, second=0, microsecond=0) - timedelta(days=2)
    for use_views in (False, True):  # the earliest row of 6.1.0-w is in a 6.0.0-x session: its first is later
        seen = asyncio.run(stability.first_sessions(ch, scope, None, use_views))
        assert seen[case.SPANNING] == int(span.timestamp() * 1000)
        assert seen[case.LATER] == int((span + timedelta(hours=5)).timestamp() * 1000)
    with pytest.raises(compare.NotFound, match="no data"):
        asyncio.run(compare.compare(ch, scope, "9.9.9", case.OLD))


# ---- segments ----


@pytest.mark.parametrize("window", WINDOWS, ids=list(WINDOWS))
@pytest.mark.parametrize("by", list(segments.DIMENSIONS))
def test_segments_three_ways(loaded: tuple[ClickHouse, list[Event]], window: str, by: str) -> None:
    """Every figure per segment; `worst` for several min_devices from one answer's segments."""
    ch, events = loaded
    start, end = WINDOWS[window]
    for tenant, versions in SEGMENTED.items():
        for dims in DIMS:
            scope = QueryScope(tenant, start, end, **dims)
            for version in versions:
                want = expected_decisions.segments(events, window_of(scope), version, by, 1)
                for use_views in (False, True):
                    got = asyncio.run(segments.segments(ch, scope, version, by, 1, use_views))
                    assert_same(got, want, f"segments {version} by {by} {scope} views={use_views}")
                for min_devices in MIN_DEVICES:
                    wanted = expected_decisions.segments(events, window_of(scope), version, by, min_devices)
                    assert segments.worst(got["segments"], min_devices) == wanted["worst"], min_devices


def test_segments_written_out(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """A device's value is its latest update event's that names one (ties: the greater); the worst of two segments
    with the same counts is the first by key; below min_devices nothing is the worst."""
    ch, _ = loaded
    scope = QueryScope(case.TENANT, NOW - timedelta(days=30), NOW, case.ORG, case.APP)
    by_channel = asyncio.run(segments.segments(ch, scope, case.NEW, "channel", 1))
    assert [(s["key"], s["devices_attempted"]) for s in by_channel["segments"]] == [
        ("production", 2), ("beta", 1), ("unknown", 1)
    ]  # fmt: skip
    assert by_channel["worst"] == "beta"  # 0 of 1 installed: [0, 79.35] of successes, so failures from 20.65
    by_os = asyncio.run(segments.segments(ch, scope, case.NEW, "device_os", 2))
    assert [s["key"] for s in by_os["segments"]] == ["Android", "iOS"]
    assert (
        by_os["segments"][0]["install_success_rate_interval"]
        == by_os["segments"][1]["install_success_rate_interval"]
    )
    assert by_os["worst"] == "Android"
    assert asyncio.run(segments.segments(ch, scope, case.NEW, "device_os", 3))["worst"] is None
    sessions = asyncio.run(segments.segments(ch, scope, case.NEW, "channel", 1))["segments"]
    assert sum(s["sessions"] for s in sessions) == 0  # the 5.0.0 sessions' devices never updated: no segment


def test_segment_view_added_to_a_database_with_data_is_backfilled(tmp_path: Path) -> None:
    """Migration 013 on a database that already holds update events: the backfill, then the view as events keep
    coming, agree with the raw table and with Python, for every dimension."""
    checked: list[int] = []  # segments compared per check

    def check(ch: ClickHouse, sent: list[Event], scope: QueryScope) -> None:
        for version in ("2.1.0", "2.2.0"):
            for by in segments.DIMENSIONS:
                want = expected_decisions.segments(sent, window_of(scope), version, by, 1)
                for use_views in (False, True):
                    got = asyncio.run(segments.segments(ch, scope, version, by, 1, use_views))
                    assert_same(got, want, f"segments {version} by {by} {scope} views={use_views}")
                checked.append(len(want["segments"]))

    applied = backfilled(tmp_path, lambda m: m.name == "release_segments", check, drilldown_events())
    assert [m.name for m in applied] == ["release_segments"]
    assert max(checked[:12]) > 1 and max(checked[-24:-12]) > 1, "the year's window splits devices both times"


def test_the_data_holds_every_case(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """The comparisons above mean something only if their cases occur: significant and not, segments with and
    without sessions and rollbacks, every dimension with more than one value."""
    _, events = loaded
    window = window_of(QueryScope("acme", *WINDOWS["a year"]))
    significance = set()
    for tenant, comparisons in COMPARISONS.items():
        for version, baseline in comparisons:
            answer = expected_decisions.compare(events, replace(window, tenant_id=tenant), version, baseline)
            if answer is not None:
                significance |= {d["significant"] for d in answer["deltas"].values()}
    assert significance == {True, False}
    for by in segments.DIMENSIONS:
        found = expected_decisions.segments(events, window, "2.1.0", by, 1)["segments"]
        assert len(found) > 1, by
    by_channel = expected_decisions.segments(events, window, "2.1.0", "channel", 1)["segments"]
    assert any(s["sessions"] for s in by_channel) and any(s["rollback_rate"] for s in by_channel)


# ---- the health gate's decision parameters ----


def check_gate(
    loaded: tuple[ClickHouse, list[Event]], scope: QueryScope, version: str, limits: Thresholds
) -> Any:
    ch, events = loaded
    want = expected_decisions.health(events, window_of(scope), version, **asdict(limits))
    for use_views in (False, True):
        got = asyncio.run(release_health.health(ch, scope, version, limits, use_views))
        assert_same(got, want, f"gate {version} {limits} views={use_views}")
    return want


def test_gate_with_confidence_below_inside_and_above_each_interval(
    loaded: tuple[ClickHouse, list[Event]],
) -> None:
    """A maximum below the interval fails, one inside it cannot tell (insufficient_data), one at or above its upper
    bound passes; the point estimates no longer decide."""
    _, events = loaded
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW)
    loose: dict[str, Any] = {
        "max_failure_rate": 100.0,
        "max_rollback_rate": 100.0,
        "min_devices": 1,
        "confidence": True,
    }
    c = expected_decisions.counts(events, window_of(scope), "2.1.0")
    bad = {
        "max_failure_rate": (c.failed_only, c.installed + c.failed_only),
        "max_rollback_rate": (c.rolled, c.installed),
        "max_crash_rate": (c.crashed, c.sessions),
    }
    for limit, (a, b) in bad.items():
        low, high = expected_decisions.wilson(a, b)
        assert 0 < low < high < 100, (limit, a, b)
        cases = [
            (round(low - 0.01, 2), "fail"),
            (low, "insufficient_data"),  # not above the lower bound: it might pass
            (round((low + high) / 2, 2), "insufficient_data"),
            (round(high - 0.01, 2), "insufficient_data"),
            (high, "pass"),  # at the upper bound: it passes
            (round(high + 0.01, 2), "pass"),
        ]
        for threshold, verdict in cases:
            got = check_gate(loaded, scope, "2.1.0", Thresholds(**{**loose, limit: threshold}))
            assert got["verdict"] == verdict, (limit, threshold, low, high, got)
    # Too few devices still wins, and a failing rule beats one that cannot tell.
    assert (
        check_gate(loaded, scope, "2.1.0", Thresholds(**{**loose, "min_devices": c.attempted + 1}))["verdict"]
        == "insufficient_data"
    )
    low, high = expected_decisions.wilson(c.failed_only, c.installed + c.failed_only)
    mixed = Thresholds(**{**loose, "max_failure_rate": round(low - 0.01, 2), "max_rollback_rate": 99.0})
    assert check_gate(loaded, scope, "2.1.0", mixed)["verdict"] == "fail"


def test_gate_against_a_baseline(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """A significant regression beyond max_regression fails, one within it passes; no previous version fails
    nothing."""
    scope = QueryScope(case.TENANT, NOW - timedelta(days=30), NOW, case.ORG, case.APP)
    loose: dict[str, Any] = {
        "max_failure_rate": 100.0,
        "max_rollback_rate": 100.0,
        "min_devices": 1,
        "baseline": "previous",
    }
    regressed = check_gate(loaded, scope, case.NEW, Thresholds(**loose))
    assert regressed["verdict"] == "fail" and len(regressed["reasons"]) == 2
    assert regressed["reasons"][0] == (
        "crash_free_sessions_rate 50.0 is 50.0 points worse than 4.0.0's 100.0 "
        "(more than max_regression 1, and significant)"
    )
    assert check_gate(loaded, scope, case.NEW, Thresholds(**loose, max_regression=50))["verdict"] == "pass"
    assert check_gate(loaded, scope, case.NEW, Thresholds(**loose, max_regression=49.99))["verdict"] == "fail"
    first = check_gate(loaded, scope, case.OLD, Thresholds(**loose))  # no previous: nothing to regress from
    assert first["comparison"] is None and first["verdict"] == "insufficient_data"  # 0 devices attempted it
    named = check_gate(loaded, scope, case.NEW, Thresholds(**{**loose, "baseline": "9.9.9"}))
    assert named["verdict"] == "pass" and named["comparison"]["baseline"]["first_seen"] is None
    acme = QueryScope("acme", NOW - timedelta(days=30), NOW, "mobile", "shop")
    for version in ("2.2.0", "2.1.0"):
        for confidence in (False, True):
            check_gate(loaded, acme, version, Thresholds(**{**loose, "confidence": confidence}))


def test_gate_without_the_new_parameters_answers_as_before(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, events = loaded
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW)
    for limits in (Thresholds(), Thresholds(1.0, 1.0, 5, 3.0)):
        got = asyncio.run(release_health.health(ch, scope, "2.1.0", limits))
        want = expected_releases.health(events, window_of(scope), "2.1.0", *astuple(limits)[:4])
        assert_same(got, want)


# ---- which versions a guard watches ----


def test_a_guard_watches_the_versions_first_seen_within_its_hours(
    loaded: tuple[ClickHouse, list[Event]],
) -> None:
    """5.0.0 is first seen 72 hours before NOW (4.0.0 never updated anyone: no release); a channel narrows to the
    versions with an update event on it."""
    ch, events = loaded
    base = {"tenant_id": case.TENANT, "org_id": case.ORG, "app_id": case.APP, "action": "pause",
            "webhook_url": "https://hooks.example.com/ota"}  # fmt: skip

    def versions(**fields: Any) -> list[str]:
        guard = guard_rules.make(guard_rules.NewGuard.model_validate({**base, **fields}))
        return asyncio.run(engine.watched(ch, guard, NOW))[1]

    assert versions(watch_hours=72) == [case.NEW]  # first seen exactly 72 hours ago: within
    assert versions(watch_hours=71) == []
    assert versions(watch_hours=72, channel="beta") == [case.NEW]
    assert versions(watch_hours=72, channel="nightly") == []
    acme = {**base, "tenant_id": "acme", "org_id": "mobile", "app_id": "shop"}
    guard = guard_rules.make(guard_rules.NewGuard.model_validate({**acme, "watch_hours": 720}))
    scope, watched = asyncio.run(engine.watched(ch, guard, NOW))
    since = NOW - timedelta(hours=720)
    firsts = expected_decisions.first_seen(events, window_of(scope))  # an update event decides over a session
    updated = {
        field(e, "target_version", "release_info")
        for e in window_of(replace(scope, start=since)).select(events)
        if e["event_type"] in UPDATES
    }
    want = sorted(v for v in updated if v is not None and firsts[v] >= since)
    assert watched == want and "2.2.0" in watched
