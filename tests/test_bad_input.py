"""Hostile and malformed input over real HTTP: the documented 4xx with a message per field, never a 500.
(Poison written straight to Kafka: tests/test_dead_letters.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import requests

from tests.support.processes import Worker, wait_for
from tests.support.scenario import rfc3339
from tests.test_e2e_adoption import adoption

NOW = datetime.now(UTC)


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenant_id": "bad",
        "org_id": "o",
        "app_id": "a",
        "device_id": "d1",
        "event_type": "update_installed",
        "timestamp": rfc3339(NOW - timedelta(minutes=5)),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


JSON = {"Content-Type": "application/json"}
# (name, path, headers, body bytes, status, a field that the error must name, or None)
CASES: list[tuple[str, str, dict[str, str], bytes, int, str | None]] = [
    ("not json", "/events", JSON, b"{nope", 400, None),
    ("empty body", "/events", JSON, b"", 400, None),
    ("truncated", "/events", JSON, b'{"tenant_id": "x"', 400, None),
    ("nan literal", "/events", JSON, b'{"progress": NaN}', 400, None),
    ("deep nesting", "/events", JSON, b"[" * 5000 + b"]" * 5000, 400, None),
    ("lone surrogate", "/events", JSON, b'{"device_id": "\\ud800"}', 400, None),
    ("invalid utf-8", "/events", JSON, b'{"device_id": "\xff\xfe"}', 400, None),
    (
        "form content type",
        "/events",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=1",
        415,
        None,
    ),
    ("text content type", "/events", {"Content-Type": "text/plain"}, orjson.dumps(event()), 415, None),
    ("no content type", "/events", {}, orjson.dumps(event()), 415, None),
    (
        "ndjson on single",
        "/events",
        {"Content-Type": "application/x-ndjson"},
        orjson.dumps(event()),
        415,
        None,
    ),
    (
        "oversized single",
        "/events",
        JSON,
        orjson.dumps(event(release_info={"release_notes": "x" * 70_000})),
        413,
        None,
    ),
    ("oversized batch", "/events/batch", JSON, orjson.dumps([event()] * 20_000), 413, None),
    ("1001 events", "/events/batch", JSON, orjson.dumps([event()] * 1001), 413, None),
    ("array on single", "/events", JSON, b"[1, 2]", 422, "$"),
    ("string on single", "/events", JSON, b'"event"', 422, "$"),
    ("batch not array", "/events/batch", JSON, orjson.dumps(event()), 422, "$"),
    ("empty batch", "/events/batch", JSON, b"[]", 422, "$"),
    ("missing tenant", "/events", JSON, orjson.dumps(event(tenant_id=...)), 422, "tenant_id"),
    ("missing timestamp", "/events", JSON, orjson.dumps(event(timestamp=...)), 422, "timestamp"),
    (
        "unknown event type",
        "/events",
        JSON,
        orjson.dumps(event(event_type="update_exploded")),
        422,
        "event_type",
    ),
    ("event type number", "/events", JSON, orjson.dumps(event(event_type=5)), 422, "event_type"),
    ("tenant with slash", "/events", JSON, orjson.dumps(event(tenant_id="a/b")), 422, "tenant_id"),
    ("tenant sql", "/events", JSON, orjson.dumps(event(tenant_id="x'; DROP TABLE t; --")), 422, "tenant_id"),
    ("tenant unicode", "/events", JSON, orjson.dumps(event(tenant_id="tenänt")), 422, "tenant_id"),
    ("huge device id", "/events", JSON, orjson.dumps(event(device_id="d" * 5000)), 422, "device_id"),
    ("device id number", "/events", JSON, orjson.dumps(event(device_id=123)), 422, "device_id"),
    ("no time zone", "/events", JSON, orjson.dumps(event(timestamp="2026-01-01T00:00:00")), 422, "timestamp"),
    ("date only", "/events", JSON, orjson.dumps(event(timestamp="2026-01-01")), 422, "timestamp"),
    ("epoch number", "/events", JSON, orjson.dumps(event(timestamp=1_700_000_000)), 422, "timestamp"),
    ("far future", "/events", JSON, orjson.dumps(event(timestamp="2999-01-01T00:00:00Z")), 422, "timestamp"),
    ("far past", "/events", JSON, orjson.dumps(event(timestamp="1970-01-01T00:00:00Z")), 422, "timestamp"),
    ("year 0", "/events", JSON, orjson.dumps(event(timestamp="0000-01-01T00:00:00Z")), 422, "timestamp"),
    ("progress 101", "/events", JSON, orjson.dumps(event(progress=101)), 422, "progress"),
    ("progress string", "/events", JSON, orjson.dumps(event(progress="50")), 422, "progress"),
    ("battery negative", "/events", JSON, orjson.dumps(event(battery_level=-1)), 422, "battery_level"),
    ("number overflows double", "/events", JSON, b'{"download_speed_mbps": 1e999}', 400, None),
    ("size float", "/events", JSON, orjson.dumps(event(package_size_bytes=1.5)), 422, "package_size_bytes"),
    (
        "size too big",
        "/events",
        JSON,
        orjson.dumps(event(package_size_bytes=2**64 - 1)),
        422,
        "package_size_bytes",
    ),
    (
        "rollout 1000",
        "/events",
        JSON,
        orjson.dumps(event(release_info={"rollout_percentage": 1000})),
        422,
        "release_info.rollout_percentage",
    ),
    ("nested not object", "/events", JSON, orjson.dumps(event(device_info=["iOS"])), 422, "device_info"),
    (
        "nested unknown",
        "/events",
        JSON,
        orjson.dumps(event(device_info={"cpu": "x"})),
        422,
        "device_info.cpu",
    ),
    ("unknown top field", "/events", JSON, orjson.dumps(event(extra_field=1)), 422, "extra_field"),
    (
        "metadata 33 keys",
        "/events",
        JSON,
        orjson.dumps(event(metadata={str(i): "v" for i in range(33)})),
        422,
        "metadata",
    ),
    ("metadata nested", "/events", JSON, orjson.dumps(event(metadata={"k": {"a": 1}})), 422, "metadata.k"),
    (
        "flat vs nested conflict",
        "/events",
        JSON,
        orjson.dumps(event(target_version="1", release_info={"target_version": "2"})),
        422,
        "target_version",
    ),
    ("null required", "/events", JSON, orjson.dumps(event(org_id=None)), 422, "org_id"),
]


@pytest.fixture(scope="module")
def shared_worker(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.processes import unique_name

    worker = Worker(
        tmp_path_factory.mktemp("bad"), kafka, unique_name("ota-events"), unique_name("ota-group")
    )
    worker.start()
    yield worker
    worker.stop()


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("name", "path", "headers", "body", "status", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_requests_get_the_documented_4xx(
    shared_worker: Worker,
    name: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    response = requests.post(f"{shared_worker.url}{path}", data=body, headers=headers, timeout=30)
    assert response.status_code == status, (name, response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in {d["field"] for d in error["details"]}, error


@pytest.mark.parametrize(
    "params",
    [
        {"tenant_id": "x' OR '1'='1"},
        {"tenant_id": "t", "app_id": "a; DROP TABLE ota_events_raw"},
        {"tenant_id": "t", "target_version": "1' UNION SELECT 1 --"},
        {"tenant_id": "t", "days": "1e3"},
        {"tenant_id": "t", "days": "-5"},
        {"tenant_id": "t", "from": "2026-01-01T00:00:00Z'; --"},
        {"tenant_id": "t", "group_by": "error_code; DROP"},
        {"tenant_id": "t" * 200},
    ],
)
def test_injection_in_query_parameters_is_rejected_or_inert(
    shared_worker: Worker, params: dict[str, str]
) -> None:
    for endpoint in ("adoption", "failures"):
        response = requests.get(f"{shared_worker.url}/analytics/{endpoint}", params=params, timeout=30)
        if response.status_code == 200:  # a value that is merely a string is bound, never spliced
            assert (
                response.json()["data"]["total_updates" if endpoint == "adoption" else "total_failures"] == 0
            )
        else:
            assert response.status_code == 422, response.text


def test_batch_mixes_valid_and_invalid_with_a_reason_per_index(shared_worker: Worker) -> None:
    body = [event(event_id="ok-1"), event(progress=-3), event(event_id="ok-2", device_id="d2"), {"x": 1}]
    response = requests.post(f"{shared_worker.url}/events/batch", json=body, timeout=30)
    assert response.status_code == 202
    result = response.json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert result["rejected"][0]["errors"][0]["field"] == "progress"


def test_valid_unicode_is_stored_as_sent(shared_worker: Worker) -> None:
    device = "设备-🚀-\u200b-é"
    response = requests.post(
        f"{shared_worker.url}/events",
        json=event(tenant_id="uni", device_id=device, event_id="u1"),
        timeout=30,
    )
    assert response.status_code == 202, response.text
    wait_for(
        lambda: adoption(shared_worker, tenant_id="uni", days=1)["unique_devices_updated"] == 1, 60, "stored"
    )
