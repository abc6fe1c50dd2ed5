"""Release decisions end to end on real parts: HTTP → Kafka → worker → chDB → `/compare`, `/segments` and the gate's
new parameters, every figure against the plain-Python computation of tests/support/expected_decisions.py; 404s as
docs/api.md says, naming the parameter; a bad parameter a 422 naming it; each tenant sees only its own releases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.support import decision_scenario as case
from tests.support import expected_decisions
from tests.support.expected import Window, assert_same
from tests.support.loaded import NOW, WINDOWS, drilldown_events
from tests.support.processes import Kafka, Worker, unique_name
from tests.support.scenario import Event, rfc3339, with_duplicates
from tests.support.worker_api import load_and_settle

YEAR, MONTH = WINDOWS["a year"], WINDOWS["last 30 days"]
# (tenant, window, dims) -> (version, baseline) pairs: the previous one, a named one, one without data, a missing
# release, a release with no previous version, a version seen only through sessions.
COMPARISONS: list[tuple[Window, list[tuple[str, str]]]] = [
    (Window("acme", *YEAR), [("2.2.0", "previous"), ("2.1.0", "previous"), ("2.2.0", "2.0.0"),
                             ("2.2.0", "9.9.9"), ("9.9.9", "previous"), ("1.9.0", "previous")]),
    (Window("acme", *MONTH, "mobile", "shop"), [("2.2.0", "previous"), ("2.1.0", "2.1.0")]),
    (Window("globex", *YEAR), [("2.2.0", "previous"), ("2.1.0", "2.2.0-beta")]),
    (Window(case.TENANT, *MONTH, case.ORG, case.APP), [(case.NEW, "previous"), (case.OLD, "previous"),
                                                     (case.LATER, "previous"), (case.SPANNING, case.LATER)]),
]  # fmt: skip
SEGMENTED = [(Window("acme", *YEAR), ("2.1.0", "2.2.0-beta", "9.9.9")), (Window("globex", *MONTH), ("2.2.0",)),
             (Window(case.TENANT, *MONTH, case.ORG, case.APP), (case.NEW,))]  # fmt: skip


@pytest.fixture(scope="module")
def served(kafka: Kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, list[Event]]]:
    sent = with_duplicates(drilldown_events() + case.decision_events(NOW), random.Random(29))
    worker = Worker(
        tmp_path_factory.mktemp("decisions-api"), kafka, unique_name("ota-events"), unique_name("ota-group")
    )
    worker.start()
    try:
        load_and_settle(worker, sent)
        yield worker, sent
    finally:
        worker.stop()


def get(worker: Worker, path: str, **params: Any) -> requests.Response:
    sent = {name: str(value).lower() if isinstance(value, bool) else value for name, value in params.items()}
    return requests.get(f"{worker.url}{path}", params=sent, timeout=120)


def data(worker: Worker, path: str, **params: Any) -> Any:
    response = get(worker, path, **params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()["data"]


def query(window: Window) -> dict[str, str]:
    dims = {"org_id": window.org_id, "app_id": window.app_id}
    return {"tenant_id": window.tenant_id, "from": rfc3339(window.start), "to": rfc3339(window.end)} | {
        k: v for k, v in dims.items() if v is not None
    }


def refused(response: requests.Response, status: int, field: str) -> str:
    """The error's message, after checking its status and that it names `field`."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert [d["field"] for d in error["details"]] == [field], error
    return str(error["message"])


def test_compare_answers_the_independent_computation(served: tuple[Worker, list[Event]]) -> None:
    worker, sent = served
    for window, pairs in COMPARISONS:
        seen = expected_decisions.first_seen(sent, window)
        for version, baseline in pairs:
            for hours in (24, 7):
                want = expected_decisions.compare(sent, window, version, baseline, hours)
                path = f"/analytics/releases/{version}/compare"
                response = get(worker, path, **query(window), baseline=baseline, hours=hours)
                if want is None:  # no data for the release, or nothing before it
                    message = refused(response, 404, "version" if version not in seen else "baseline")
                    assert version in message
                else:
                    assert response.status_code == 200, response.text
                    assert_same(response.json()["data"], want, f"compare {version} {baseline} {window}")
    # The default baseline is the previous release and the default hours 24.
    window = COMPARISONS[0][0]
    got = data(worker, "/analytics/releases/2.2.0/compare", **query(window))
    assert_same(got, expected_decisions.compare(sent, window, "2.2.0"), "defaults")


def test_the_comparisons_mean_something(served: tuple[Worker, list[Event]]) -> None:
    """The written-out case gives a significant difference and one that is not: both answers are exercised."""
    worker, _ = served
    window = Window(case.TENANT, *MONTH, case.ORG, case.APP)
    got = data(worker, f"/analytics/releases/{case.NEW}/compare", **query(window))
    assert got["baseline"]["version"] == case.OLD
    assert got["deltas"]["crash_free_sessions_rate"] == {"difference": -50.0, "significant": True}
    assert got["deltas"]["install_success_rate"]["significant"] is False


def test_segments_answer_the_independent_computation(served: tuple[Worker, list[Event]]) -> None:
    worker, sent = served
    for window, versions in SEGMENTED:
        for version in versions:
            for by in expected_decisions.SEGMENT_FIELDS:
                for min_devices in (1, 2, 20):
                    want = expected_decisions.segments(sent, window, version, by, min_devices)
                    got = data(worker, f"/analytics/releases/{version}/segments", **query(window), by=by,
                               min_devices=min_devices)  # fmt: skip
                    assert_same(got, want, f"segments {version} by {by} {window} min {min_devices}")
    window = SEGMENTED[2][0]  # the default min_devices (20) is more than the written-out release has
    got = data(worker, f"/analytics/releases/{case.NEW}/segments", **query(window), by="device_os")
    assert got["worst"] is None and [s["key"] for s in got["segments"]] == ["Android", "iOS"]
    assert data(worker, f"/analytics/releases/{case.NEW}/segments", **query(window), by="device_os",
                min_devices=2)["worst"] == "Android"  # fmt: skip  # a tie, broken by the key


def test_the_gate_with_confidence_and_a_baseline(served: tuple[Worker, list[Event]]) -> None:
    """Thresholds below, inside and above the failure interval give fail, insufficient_data and pass; a baseline
    fails a significant regression beyond max_regression; every answer equals the computation."""
    worker, sent = served
    window = Window("acme", NOW - timedelta(days=30), NOW)
    c = expected_decisions.counts(sent, window, "2.1.0")
    low, high = expected_decisions.wilson(c.failed_only, c.installed + c.failed_only)
    assert 0 < low < high < 100
    loose = {"max_rollback_rate": 100, "min_devices": 1, "confidence": True}
    path = "/analytics/releases/2.1.0/health"
    for threshold, verdict in ((round(low - 0.01, 2), "fail"), (round((low + high) / 2, 2), "insufficient_data"),
                               (high, "pass")):  # fmt: skip
        got = data(worker, path, **query(window), **loose, max_failure_rate=threshold)
        want = expected_decisions.health(sent, window, "2.1.0", threshold, 100, 1, confidence=True)
        assert_same(got, want, f"confidence {threshold}")
        assert got["verdict"] == verdict, (threshold, low, high, got)
    mine = Window(case.TENANT, *MONTH, case.ORG, case.APP)
    for extra in ({}, {"max_regression": 50}, {"hours": 2, "max_crash_rate": 60}, {"confidence": True}):
        params = {"max_failure_rate": 100, "max_rollback_rate": 100, "min_devices": 1, "baseline": "previous"}
        got = data(worker, f"/analytics/releases/{case.NEW}/health", **query(mine), **params, **extra)
        want = expected_decisions.health(sent, mine, case.NEW, 100, 100, 1, baseline="previous", **extra)
        assert_same(got, want, f"baseline {extra}")
    regressed = data(worker, f"/analytics/releases/{case.NEW}/health", **query(mine), max_failure_rate=100,
                     max_rollback_rate=100, min_devices=1, baseline="previous")  # fmt: skip
    assert regressed["verdict"] == "fail" and regressed["comparison"]["baseline"]["version"] == case.OLD
    # Without the new parameters, the answer is the one the gate always gave.
    plain = data(worker, path, **query(window), confidence="false")
    assert plain == data(worker, path, **query(window)) and "comparison" not in plain
    assert "failure_rate_interval" not in plain


def test_bad_parameters_are_refused_naming_them(served: tuple[Worker, list[Event]]) -> None:
    worker, _ = served
    window = query(Window("acme", *YEAR))
    compare, segments, health = (
        f"/analytics/releases/2.1.0/{name}" for name in ("compare", "segments", "health")
    )
    cases = [
        (compare, {"hours": "0"}, "hours"), (compare, {"hours": "721"}, "hours"), (compare, {"hours": "2h"}, "hours"),
        (compare, {"baseline": ""}, "baseline"), (compare, {"baseline": "x" * 129}, "baseline"),
        (compare, {"by": "channel"}, "by"), (compare, {"tenant_id": "no such"}, "tenant_id"),
        (segments, {}, "by"), (segments, {"by": "device"}, "by"), (segments, {"by": "channel", "min_devices": "0"},
                                                                   "min_devices"),
        (segments, {"by": "channel", "hours": "3"}, "hours"),
        (health, {"confidence": "yes"}, "confidence"), (health, {"max_regression": "101"}, "max_regression"),
        (health, {"hours": "-1"}, "hours"), (health, {"baseline": ""}, "baseline"),
    ]  # fmt: skip
    for path, params, field in cases:
        refused(get(worker, path, **{**window, **params}), 422, field)
    long_version = "v" * 129
    refused(get(worker, f"/analytics/releases/{long_version}/compare", **window), 422, "version")


def test_each_tenant_sees_only_its_own_releases(served: tuple[Worker, list[Event]]) -> None:
    """umbrella has no 2.1.0 and acme no 5.0.0: each reads as absent, never as the other tenant's figures."""
    worker, sent = served
    for tenant, version in (("umbrella", "2.1.0"), ("acme", case.NEW)):
        window = Window(tenant, *YEAR)
        assert expected_decisions.compare(sent, window, version, "2.0.0") is None
        response = get(worker, f"/analytics/releases/{version}/compare", **query(window), baseline="2.0.0")
        assert version in refused(response, 404, "version")
        got = data(worker, f"/analytics/releases/{version}/segments", **query(window), by="channel")
        assert got == {"version": version, "by": "channel", "segments": [], "worst": None}
