"""Release figures (docs/api.md#get-analyticsreleases) three ways: from the views, from the raw table alone, and in
plain Python.

The events mix the generic scenario with release rollouts (tests/support/release_scenario.py): channels,
staged rollout percentages, failures then success, rollbacks and re-installs, a beta seen only on its channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import releases
from ota_stream.storage.queries.apps import apps
from ota_stream.storage.queries.release_health import Thresholds, health
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import loaded_database
from tests.support import expected_drilldown, expected_releases
from tests.support.backfill import backfilled
from tests.support.expected import assert_same
from tests.support.loaded import NOW, WINDOWS, release_events, window_of
from tests.support.scenario import Event

GROUPINGS = [None, "channel", "device_os", "rollout_percentage"]


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[ClickHouse, list[Event]]]:
    yield from loaded_database(release_events())


def check_releases(ch: ClickHouse, events: list[Event], scope: QueryScope) -> None:
    for group_by in GROUPINGS:
        want = expected_releases.releases(events, window_of(scope), group_by)
        from_raw = asyncio.run(releases.releases(ch, scope, group_by, use_views=False))
        assert_same(from_raw, want, f"releases by {group_by} (raw)")
        from_views = asyncio.run(releases.releases(ch, scope, group_by, use_views=True))
        assert_same(from_views, want, f"releases by {group_by} (views)")


@pytest.mark.parametrize("window", WINDOWS, ids=list(WINDOWS))
@pytest.mark.parametrize("dims", [{}, {"org_id": "mobile"}, {"org_id": "web", "app_id": "chat"}], ids=str)
def test_releases_three_ways(
    loaded: tuple[ClickHouse, list[Event]], window: str, dims: dict[str, str]
) -> None:
    ch, events = loaded
    start, end = WINDOWS[window]
    for tenant in ("acme", "globex"):
        check_releases(ch, events, QueryScope(tenant, start, end, **dims))


def test_the_scenario_exercises_every_release_figure(loaded: tuple[ClickHouse, list[Event]]) -> None:
    """The comparison above means something only if every figure and case occurs in the data."""
    ch, _ = loaded
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW, "mobile", "shop")
    rows = asyncio.run(releases.releases(ch, scope, "channel"))
    by_version = {r["version"]: r for r in rows}
    assert {"2.1.0", "2.2.0-beta", "2.2.0", "1.2.0"} <= set(by_version)
    assert [g["key"] for g in by_version["2.2.0-beta"]["groups"]] == ["beta"]  # seen only through beta
    assert {"production", "beta", "unknown"} <= {g["key"] for g in by_version["2.1.0"]["groups"]}
    assert sum(r["devices_rolled_back"] for r in rows) >= 3
    assert any(0 < r["install_success_rate"] < 100 for r in rows)
    assert any(r["time_to_50_percent_seconds"] is not None for r in rows)
    assert any(r["install_duration_seconds"]["p95"] is not None for r in rows)
    assert any(len(r["adoption_curve"]) > 3 for r in rows)
    assert any(0 < r["crash_free_sessions_rate"] < 100 for r in rows)
    assert any(r["crash_free_sessions_rate"] == 0.0 for r in rows)  # a release without sessions
    by_rollout = asyncio.run(releases.releases(ch, scope, "rollout_percentage"))
    assert {"10", "12.5", "50", "100"} <= {g["key"] for r in by_rollout for g in r["groups"]}


def test_release_views_added_to_a_database_with_data_are_backfilled(tmp_path: Path) -> None:
    """Migrations 006 and 007 on a database that already holds events: the backfill, then the views as events
    keep coming, agree with the raw table and with Python."""
    writer_needs = ("sink_blocks", "launch_duration")  # columns of the raw table that the writer fills

    def check(ch: ClickHouse, sent: list[Event], scope: QueryScope) -> None:
        check_releases(ch, sent, scope)
        assert_same(asyncio.run(apps(ch, scope)), expected_drilldown.apps(sent, window_of(scope)), "apps")

    applied = backfilled(tmp_path, lambda m: m.version >= 6 and m.name not in writer_needs, check)
    assert {m.name for m in applied} >= {"release_devices", "app_activity"}


# ---- the health gate ----

VERSION = "2.1.0"


def gate_inputs(loaded: tuple[ClickHouse, list[Event]]) -> tuple[QueryScope, dict[str, Any]]:
    _, events = loaded
    scope = QueryScope("acme", NOW - timedelta(days=30), NOW)
    figures = expected_releases.health(events, window_of(scope), VERSION, 100, 100, 1)
    assert figures["verdict"] == "pass" and figures["failure_rate"] > 0 and figures["rollback_rate"] > 0
    assert 0 < figures["crash_free_sessions_rate"] < 100 and 0 < figures["crash_free_devices_rate"] < 100
    return scope, figures


def check_gate(
    loaded: tuple[ClickHouse, list[Event]], scope: QueryScope, thresholds: Thresholds
) -> dict[str, Any]:
    ch, events = loaded
    want = expected_releases.health(
        events, window_of(scope), VERSION, thresholds.max_failure_rate, thresholds.max_rollback_rate,
        thresholds.min_devices, thresholds.max_crash_rate,
    )  # fmt: skip
    for use_views in (False, True):
        assert_same(
            asyncio.run(health(ch, scope, VERSION, thresholds, use_views)), want, f"views={use_views}"
        )
    return want


def test_gate_at_below_and_above_each_threshold(loaded: tuple[ClickHouse, list[Event]]) -> None:
    scope, figures = gate_inputs(loaded)
    failure, rollback, devices = (
        figures["failure_rate"],
        figures["rollback_rate"],
        figures["devices_attempted"],
    )
    crash = round(100 - figures["crash_free_sessions_rate"], 2)
    loose = {"max_failure_rate": 100.0, "max_rollback_rate": 100.0, "min_devices": 1}
    cases = [
        ({"max_failure_rate": failure}, "pass"),  # at the threshold: passes
        ({"max_failure_rate": round(failure - 0.01, 2)}, "fail"),  # just below the rate
        ({"max_failure_rate": failure + 0.01}, "pass"),
        ({"max_rollback_rate": rollback}, "pass"),
        ({"max_rollback_rate": round(rollback - 0.01, 2)}, "fail"),
        ({"max_rollback_rate": rollback + 0.01}, "pass"),
        ({"min_devices": devices}, "pass"),  # exactly enough devices
        ({"min_devices": devices + 1}, "insufficient_data"),
        ({"min_devices": devices - 1}, "pass"),
        (
            {"min_devices": devices + 1, "max_failure_rate": 0.0},
            "insufficient_data",
        ),  # too few beats a breach
        ({"max_failure_rate": 0.0, "max_rollback_rate": 0.0}, "fail"),
        ({"max_crash_rate": crash}, "pass"),  # the crash rate, checked only when asked for
        ({"max_crash_rate": round(crash - 0.01, 2)}, "fail"),
        ({"max_crash_rate": crash + 0.01}, "pass"),
        ({"max_crash_rate": 0.0, "min_devices": devices + 1}, "insufficient_data"),
    ]
    for changes, verdict in cases:
        got = check_gate(loaded, scope, Thresholds(**{**loose, **changes}))
        assert got["verdict"] == verdict, (changes, got)
    both = check_gate(loaded, scope, Thresholds(0.0, 0.0, devices + 1))
    assert len(both["reasons"]) == 3
    every = check_gate(loaded, scope, Thresholds(0.0, 0.0, devices + 1, 0.0))
    assert every["reasons"][:3] == both["reasons"]
    assert every["reasons"][3] == f"crash_rate {crash} is above max_crash_rate 0"


def test_gate_defaults_and_unknown_versions(loaded: tuple[ClickHouse, list[Event]]) -> None:
    ch, _ = loaded
    scope, _ = gate_inputs(loaded)
    check_gate(loaded, scope, Thresholds())
    got = asyncio.run(health(ch, scope, "9.9.9", Thresholds()))
    assert got == {
        "version": "9.9.9",
        "verdict": "insufficient_data",
        "devices_attempted": 0,
        "failure_rate": 0.0,
        "rollback_rate": 0.0,
        "crash_free_sessions_rate": 0.0,
        "crash_free_devices_rate": 0.0,
        "reasons": ["devices_attempted 0 is below min_devices 50"],
    }
    # No session is no evidence: with the crash check asked for, its crash rate is 100.
    asked = asyncio.run(health(ch, scope, "9.9.9", Thresholds(min_devices=1, max_crash_rate=5)))
    assert asked["reasons"][-1] == "crash_rate 100.0 is above max_crash_rate 5"
