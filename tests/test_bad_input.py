"""Hostile and malformed input over real HTTP: the documented 4xx with a message per field, never a 500.
(Poison written straight to Kafka: tests/test_dead_letters.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.bad_input import CASES, event
from tests.support.processes import Worker, wait_for
from tests.support.worker_api import adoption


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
