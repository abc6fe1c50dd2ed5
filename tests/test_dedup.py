"""A duplicate counts once: client retries (one request or two) and Kafka redelivery after kill -9."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same, unique
from tests.support.processes import Worker
from tests.support.scenario import Scenario, post_batches, rfc3339
from tests.support.worker_api import ENDPOINTS, adoption, every_endpoint, wait_processed


def event(event_id: str, device: str, event_type: str = "update_installed") -> dict[str, str]:
    return {
        "tenant_id": "dup",
        "org_id": "o",
        "app_id": "a",
        "device_id": device,
        "event_type": event_type,
        "timestamp": rfc3339(datetime.now(UTC) - timedelta(minutes=1)),
        "event_id": event_id,
        "target_version": "2.0.0",
    }


def test_client_retries_count_once(worker: Worker) -> None:
    same = event("retry-1", "d1")
    other = event("other-1", "d2", "update_failed")
    response = requests.post(f"{worker.url}/events/batch", json=[same, same, other], timeout=30)
    assert response.json() == {"accepted": 3, "rejected": []}
    retried = event("retry-2", "d3")
    for _ in range(2):
        response = requests.post(f"{worker.url}/events", json=retried, timeout=30)
        assert response.status_code == 202 and response.json()["event_id"] == "retry-2"

    wait_processed(worker, processed=3, duplicates=2)
    got = adoption(worker, tenant_id="dup", days=1)
    assert (got["successful_updates"], got["failed_updates"], got["unique_devices_updated"]) == (2, 1, 2)

    # Minutes later the same id again is still a duplicate: the lookup is against ClickHouse, not memory.
    requests.post(f"{worker.url}/events", json=same, timeout=30)
    wait_processed(worker, processed=3, duplicates=3)
    assert adoption(worker, tenant_id="dup", days=1) == got


def test_redelivery_after_kill9_between_insert_and_commit(make_worker: WorkerFactory) -> None:
    """Offsets are committed only every hour, so kill -9 after the insert redelivers everything."""
    worker = make_worker(KAFKA_COMMIT_INTERVAL_SECONDS="3600")
    worker.start()
    now = datetime.now(UTC)
    events = Scenario(now=now, tenants=("acme",), devices_per_app=10).build()
    post_batches(worker.url, events)
    count = len(unique(events))
    wait_processed(worker, count, duplicates=0)
    window = Window("acme", now - timedelta(days=45), now + timedelta(minutes=5))
    before = every_endpoint(worker, window)
    for (name, extra, compute), got in zip(ENDPOINTS, before.values(), strict=True):
        assert_same(got, compute(events, window, *extra.values()), name)

    worker.kill9()
    worker.start({"KAFKA_COMMIT_INTERVAL_SECONDS": "1"})
    # Every event comes again from Kafka, and every one of them is recognised as already written.
    wait_processed(worker, 0, duplicates=count)
    assert every_endpoint(worker, window) == before
