"""End to end on real parts: HTTP → Kafka → worker → chDB → /analytics/adoption, exact numbers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import requests

from tests.support import expected
from tests.support.expected import Window, unique
from tests.support.processes import Worker
from tests.support.scenario import Scenario, post_batches, rfc3339, with_duplicates
from tests.support.worker_api import adoption, wait_processed


def test_adoption_is_exact_for_every_scope(worker: Worker) -> None:
    now = datetime.now(UTC)
    events = Scenario(now=now, devices_per_app=8).build()
    sent = with_duplicates(events, random.Random(3))
    assert post_batches(worker.url, sent) == len(sent)
    wait_processed(worker, len(unique(sent)), len(sent) - len(unique(sent)))

    query_now = datetime.now(UTC)
    last_30_days = {"days": 30}
    for tenant in ("acme", "globex"):
        window = Window(tenant, query_now - timedelta(days=30), query_now)
        assert adoption(worker, tenant_id=tenant, **last_30_days) == expected.adoption(sent, window)
        assert adoption(worker, tenant_id=tenant) == expected.adoption(sent, window)  # days defaults to 30
        scoped = Window(tenant, window.start, window.end, org_id="mobile", app_id="chat")
        got = adoption(worker, tenant_id=tenant, org_id="mobile", app_id="chat")
        assert got == expected.adoption(sent, scoped)
        assert adoption(worker, tenant_id=tenant, target_version="1.2.0") == expected.adoption(
            sent, window, target_version="1.2.0"
        )
        start, end = now - timedelta(days=50), now - timedelta(days=5)
        explicit = Window(tenant, start, end, org_id="web")
        got = adoption(worker, tenant_id=tenant, org_id="web", **{"from": rfc3339(start), "to": rfc3339(end)})
        assert got == expected.adoption(sent, explicit)

    # The scenario is rich enough for the comparison to mean something.
    acme = adoption(worker, tenant_id="acme", days=365)
    assert acme["successful_updates"] > 10 and acme["failed_updates"] > 0 and acme["rollbacks"] > 0
    assert len(acme["hourly_installs"]) > 5
    # Tenants are isolated: a tenant with no events sees nothing of the others.
    assert adoption(worker, tenant_id="initech", days=365)["total_updates"] == 0


def test_single_event_round_trip(worker: Worker) -> None:
    event = {
        "tenant_id": "solo",
        "org_id": "o",
        "app_id": "a",
        "device_id": "d1",
        "event_type": "update_installed",
        "timestamp": rfc3339(datetime.now(UTC) - timedelta(minutes=5)),
        "target_version": "3.0.0",
    }
    response = requests.post(f"{worker.url}/events", json=event, timeout=30)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["timestamp"] == event["timestamp"]
    assert len(body["event_id"]) == 36
    wait_processed(worker, 1)
    got = adoption(worker, tenant_id="solo", days=1)
    assert (got["successful_updates"], got["unique_devices_updated"], got["success_rate"]) == (1, 1, 100.0)


def test_bad_parameters_get_422_naming_them(worker: Worker) -> None:
    cases = {
        "tenant_id": {},
        "days": {"tenant_id": "t", "days": "0"},
        "from": {"tenant_id": "t", "from": "yesterday"},
        "to": {"tenant_id": "t", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        "org_id": {"tenant_id": "t", "org_id": "x' OR 1=1 --"},
        "tenant": {"tenant_id": "t", "tenant": "t"},
    }
    for field, params in cases.items():
        for endpoint in ("adoption", "versions", "active-devices", "failures", "performance"):
            response = requests.get(f"{worker.url}/analytics/{endpoint}", params=params, timeout=30)
            assert response.status_code == 422, (endpoint, field, response.text)
            assert response.json()["error"]["details"][0]["field"] == field
    specific = [
        ("versions", {"tenant_id": "t", "segment": "device_color"}, "segment"),
        ("failures", {"tenant_id": "t", "group_by": "device_id"}, "group_by"),
        ("failures", {"tenant_id": "t", "segment": "device_os"}, "segment"),
        ("adoption", {"tenant_id": "t", "target_version": "x" * 129}, "target_version"),
        ("adoption", {"tenant_id": "t", "days": "30", "from": "2026-01-01T00:00:00Z"}, "days"),
    ]
    for endpoint, params, field in specific:
        response = requests.get(f"{worker.url}/analytics/{endpoint}", params=params, timeout=30)
        assert response.status_code == 422, (endpoint, field, response.text)
        assert response.json()["error"]["details"][0]["field"] == field
