"""Releases (docs/api.md#get-analyticsreleases) and stability end to end on real parts: HTTP → Kafka → worker →
chDB → every release route, exact
numbers; exports read back with pyarrow equal the events; tenants see only their rows; EXPORT_MAX_ROWS; bad
parameters get 422."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import requests

from ota_stream.models import format_timestamp
from tests.support import expected_drilldown, expected_releases, expected_stability
from tests.support.expected import Window, assert_same
from tests.support.loaded import NOW, WINDOWS, drilldown_events
from tests.support.processes import Kafka, Worker, unique_name
from tests.support.scenario import Event, rfc3339, with_duplicates
from tests.support.worker_api import load_and_settle

ODD_DEVICE, ODD_VERSION = "ünï/cödé 1", "3.0.0+build/7"  # need percent-encoding in a path
YEAR = WINDOWS["a year"]
LIMITED = Window("acme", *YEAR, org_id="mobile")  # its export is exactly EXPORT_MAX_ROWS rows


def odd_events() -> list[Event]:
    base = {"tenant_id": "acme", "org_id": "mobile", "app_id": "shop", "device_id": ODD_DEVICE}
    return [
        {**base, "event_id": f"odd-{i}", "event_type": t, "timestamp": rfc3339(NOW.replace(microsecond=0)),
         "release_info": {"target_version": ODD_VERSION}}
        for i, t in enumerate(("update_started", "update_installed"))
    ]  # fmt: skip


@pytest.fixture(scope="module")
def served(kafka: Kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, list[Event]]]:
    sent = with_duplicates(drilldown_events() + odd_events(), random.Random(9))
    limit = len(expected_drilldown.export_rows(sent, LIMITED))
    worker = Worker(
        tmp_path_factory.mktemp("release-api"),
        kafka,
        unique_name("ota-events"),
        unique_name("ota-group"),
        env={"EXPORT_MAX_ROWS": str(limit)},
    )
    worker.start()
    try:
        load_and_settle(worker, sent)
        yield worker, sent
    finally:
        worker.stop()


def get(worker: Worker, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{worker.url}{path}", params=params, timeout=120)


def data(worker: Worker, path: str, **params: Any) -> Any:
    response = get(worker, path, **params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()["data"]


def span(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": rfc3339(start), "to": rfc3339(end)}


WINDOW_CASES = [("acme", YEAR, {}), ("globex", WINDOWS["hours not days"], {"org_id": "web"}),
                ("acme", WINDOWS["last 30 days"], {"org_id": "mobile", "app_id": "shop"})]  # fmt: skip


def test_every_route_answers_the_independent_computation(served: tuple[Worker, list[Event]]) -> None:
    worker, sent = served
    for tenant, (start, end), dims in WINDOW_CASES:
        query = {"tenant_id": tenant, **span(start, end), **dims}
        window = Window(tenant, start, end, **dims)
        for group_by in (None, "channel", "device_os", "rollout_percentage"):
            extra = {"group_by": group_by} if group_by else {}
            want: Any = expected_releases.releases(sent, window, group_by)
            assert_same(data(worker, "/analytics/releases", **query, **extra), want, f"releases {group_by}")
        for version in ("2.1.0", "2.2.0", "2.3.0"):
            want = expected_releases.health(sent, window, version)
            assert_same(data(worker, f"/analytics/releases/{version}/health", **query), want, "health")
            limits = {"max_failure_rate": 12.5, "max_rollback_rate": 0, "min_devices": 3, "max_crash_rate": 5}
            want = expected_releases.health(sent, window, version, 12.5, 0, 3, 5)
            assert_same(
                data(worker, f"/analytics/releases/{version}/health", **query, **limits), want, "gate"
            )
        for named in (None, "2.1.0", "9.9.9"):
            only = {"version": named} if named else {}
            want = expected_stability.stability(sent, window, named)
            assert_same(data(worker, "/analytics/stability", **query, **only), want, f"stability {named}")
        extras: list[dict[str, Any]] = [
            {},
            {"error_code": "E_NETWORK", "limit": 2},
            {"target_version": "unknown"},
        ]
        for extra in extras:
            want = expected_drilldown.failure_messages(sent, window, **extra)  # type: ignore[arg-type]
            assert_same(data(worker, "/analytics/failures/messages", **query, **extra), want, "messages")
        assert_same(data(worker, "/analytics/apps", **query), expected_drilldown.apps(sent, window), "apps")
        devices = sorted({e["device_id"] for e in window.select(sent)})
        for device in devices[:: max(1, len(devices) // 5)]:
            got = data(worker, f"/analytics/devices/{quote(device, safe='')}/events", **query, limit=7)
            assert_same(got, expected_drilldown.device_events(sent, window, device, 7), f"device {device}")


def test_path_parameters_that_need_encoding(served: tuple[Worker, list[Event]]) -> None:
    worker, sent = served
    query = {"tenant_id": "acme", **span(*YEAR)}
    window = Window("acme", *YEAR)
    got = data(worker, f"/analytics/devices/{quote(ODD_DEVICE, safe='')}/events", **query)
    assert [e["event_id"] for e in got] == ["odd-1", "odd-0"]
    assert got == expected_drilldown.device_events(sent, window, ODD_DEVICE)
    health = data(worker, f"/analytics/releases/{quote(ODD_VERSION, safe='')}/health", **query, min_devices=1)
    assert health == expected_releases.health(sent, window, ODD_VERSION, min_devices=1)
    assert health["verdict"] == "pass" and health["devices_attempted"] == 1


# ---- export ----

FLOATS = {
    "rollout_percentage", "bandwidth_mbps", "download_speed_mbps", "download_duration_seconds",
    "install_duration_seconds", "battery_level", "storage_available_mb", "progress", "rollback_duration_seconds",
    "launch_duration_seconds",
}  # fmt: skip
COLUMNS = [*expected_drilldown.TOP, *(n for names in expected_drilldown.GROUPS.values() for n in names),
           *expected_drilldown.TAIL]  # fmt: skip
CSV_TYPES = {
    n: pa.float64() if n in FLOATS else pa.uint64() if n == "package_size_bytes" else pa.string()
    for n in COLUMNS
}


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["event_id"])


def read_ndjson(body: bytes) -> list[dict[str, Any]]:
    rows = [orjson.loads(line) for line in body.splitlines()]
    for row in rows:  # JSON does not tell 50 from 50.0
        row.update({k: float(v) for k, v in row.items() if k in FLOATS and v is not None})
    return rows


def read_csv(body: bytes) -> list[dict[str, Any]]:
    options = pacsv.ConvertOptions(
        column_types=CSV_TYPES, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    rows = pacsv.read_csv(io.BytesIO(body), convert_options=options).to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"])
    return rows


def read_parquet(body: bytes) -> list[dict[str, Any]]:
    table = pq.read_table(io.BytesIO(body))
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    rows = table.to_pylist()
    for row in rows:
        row["timestamp"] = format_timestamp(row["timestamp"].astimezone(UTC))
        row["metadata"] = dict(row["metadata"])
    return rows


READERS = {"ndjson": read_ndjson, "csv": read_csv, "parquet": read_parquet}


def export(worker: Worker, fmt: str, window: Window, **extra: str) -> requests.Response:
    dims = {k: v for k, v in (("org_id", window.org_id), ("app_id", window.app_id)) if v}
    query = {"tenant_id": window.tenant_id, **span(window.start, window.end), **dims, "format": fmt, **extra}
    return get(worker, "/analytics/export", **query)


@pytest.mark.parametrize("fmt", list(READERS))
def test_exports_read_back_equal_the_events(served: tuple[Worker, list[Event]], fmt: str) -> None:
    worker, sent = served
    cases = [
        (LIMITED, {}),  # exactly EXPORT_MAX_ROWS rows: allowed
        (Window("globex", *WINDOWS["last 30 days"], org_id="web"), {}),
        (Window("globex", *YEAR, org_id="web", app_id="chat"), {"event_type": "update_failed"}),
        (Window("initech", *YEAR), {}),  # a tenant with no events: an empty file
    ]
    for window, extra in cases:
        response = export(worker, fmt, window, **extra)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith(
            {
                "ndjson": "application/x-ndjson",
                "csv": "text/csv",
                "parquet": "application/vnd.apache.parquet",
            }[fmt]
        )
        want = expected_drilldown.export_rows(sent, window, extra.get("event_type"))
        assert response.headers["X-Export-Rows"] == str(len(want))
        rows = READERS[fmt](response.content) if want or fmt != "parquet" else []
        assert {row["tenant_id"] for row in rows} <= {window.tenant_id}  # never another tenant's row
        assert_same(by_id(rows), by_id(want), f"{fmt} {window} {extra}")
    assert len(expected_drilldown.export_rows(sent, LIMITED)) > 100
    assert all(len(expected_drilldown.export_rows(sent, w)) <= len(expected_drilldown.export_rows(sent, LIMITED))
               for w, _ in cases)  # fmt: skip


def test_export_over_the_limit_is_413(served: tuple[Worker, list[Event]]) -> None:
    worker, sent = served
    whole = Window("acme", *YEAR)
    assert len(expected_drilldown.export_rows(sent, whole)) > len(
        expected_drilldown.export_rows(sent, LIMITED)
    )
    response = export(worker, "csv", whole)
    assert response.status_code == 413, response.text
    assert "EXPORT_MAX_ROWS" in response.json()["error"]["message"]


# ---- bad input ----

BAD = [
    ("/analytics/releases", {"group_by": "error_code"}, "group_by"),
    ("/analytics/releases", {"segment": "device_os"}, "segment"),
    ("/analytics/releases/2.1.0/health", {"max_failure_rate": "101"}, "max_failure_rate"),
    ("/analytics/releases/2.1.0/health", {"max_failure_rate": "-1"}, "max_failure_rate"),
    ("/analytics/releases/2.1.0/health", {"max_rollback_rate": "nan"}, "max_rollback_rate"),
    ("/analytics/releases/2.1.0/health", {"max_rollback_rate": "1e999"}, "max_rollback_rate"),
    ("/analytics/releases/2.1.0/health", {"min_devices": "0"}, "min_devices"),
    ("/analytics/releases/2.1.0/health", {"min_devices": "²"}, "min_devices"),
    ("/analytics/releases/2.1.0/health", {"min_devices": "5.5"}, "min_devices"),
    ("/analytics/releases/" + "v" * 129 + "/health", {}, "version"),
    ("/analytics/releases/2.1.0/health", {"max_crash_rate": "100.5"}, "max_crash_rate"),
    ("/analytics/releases/2.1.0/health", {"max_crash_rate": ""}, "max_crash_rate"),
    ("/analytics/stability", {"version": "v" * 129}, "version"),
    ("/analytics/stability", {"version": ""}, "version"),
    ("/analytics/stability", {"group_by": "device_os"}, "group_by"),
    ("/analytics/failures/messages", {"limit": "101"}, "limit"),
    ("/analytics/failures/messages", {"limit": "0"}, "limit"),
    ("/analytics/failures/messages", {"error_code": "x" * 129}, "error_code"),
    ("/analytics/failures/messages", {"group_by": "error_code"}, "group_by"),
    ("/analytics/devices/d1/events", {"limit": "1001"}, "limit"),
    ("/analytics/devices/" + "d" * 129 + "/events", {}, "device_id"),
    ("/analytics/apps", {"limit": "3"}, "limit"),
    ("/analytics/export", {}, "format"),
    ("/analytics/export", {"format": "xlsx"}, "format"),
    ("/analytics/export", {"format": "csv", "event_type": "app_exploded"}, "event_type"),
    ("/analytics/active-devices", {"days": "³"}, "days"),
]
ROUTES = [
    "/analytics/releases",
    "/analytics/releases/2.1.0/health",
    "/analytics/stability",
    "/analytics/failures/messages",
    "/analytics/devices/d1/events",
    "/analytics/apps",
    "/analytics/export?format=csv",
]


def test_bad_parameters_get_422_naming_them(served: tuple[Worker, list[Event]]) -> None:
    worker, _ = served
    for path, params, field in BAD:
        response = get(worker, path, tenant_id="acme", **params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["error"]["details"][0]["field"] == field, (path, response.text)
    common = [
        ({}, "tenant_id"),
        ({"tenant_id": "acme", "days": "0"}, "days"),
        ({"tenant_id": "acme", "org_id": "x' OR 1=1 --"}, "org_id"),
        ({"tenant_id": "acme", "x": "1"}, "x"),
    ]
    for route in ROUTES:
        for params, field in common:
            response = get(worker, route, **params)
            assert response.status_code == 422, (route, params, response.text)
            assert response.json()["error"]["details"][0]["field"] == field
        repeated = requests.get(
            f"{worker.url}{route}", params=[("tenant_id", "a"), ("tenant_id", "b")], timeout=60
        )
        assert repeated.status_code == 422 and repeated.json()["error"]["details"][0]["field"] == "tenant_id"
