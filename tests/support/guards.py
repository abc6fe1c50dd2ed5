"""Rollout guards through the admin API, events that make a version fail or pass their gate, and the decisions a
webhook receiver got, for the guard tests (docs/decisions.md#rollout-guards)."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.alerts import ADMIN_HEADERS, ALERT_ENV, TENANT, events, metric
from tests.support.processes import Worker, wait_for
from tests.support.receiver import Delivery
from tests.support.scenario import Event

ORG = "guarded"
# Alert workers (keys on, private webhooks allowed, fast retries) that evaluate their guards every second.
GUARD_ENV = {**ALERT_ENV, "GUARD_EVALUATION_INTERVAL_SECONDS": "1"}
RULES = {"min_devices": 5, "max_failure_rate": 5}  # 10 devices are enough to judge
# What every decision's body holds (docs/decisions.md#the-decision).
DECISION_FIELDS = {"decision_id", "guard_id", "decision", "tenant_id", "org_id", "app_id", "channel", "version",
                   "health", "decided_at"}  # fmt: skip


def make_guard(worker: Worker, url: str, app: str, **fields: Any) -> dict[str, Any]:
    """A guard of TENANT/ORG/`app` through the admin API; the answer's data, signing secret included."""
    body = {"tenant_id": TENANT, "org_id": ORG, "app_id": app, "rules": RULES, "action": "rollback",
            "webhook_url": url, **fields}  # fmt: skip
    response = requests.post(f"{worker.url}/admin/guards", json=body, headers=ADMIN_HEADERS, timeout=30)
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def delete_guard(worker: Worker, guard_id: str) -> None:
    answer = requests.delete(f"{worker.url}/admin/guards/{guard_id}", headers=ADMIN_HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text


def decisions_of(
    worker: Worker, guard_id: str, headers: dict[str, str] = ADMIN_HEADERS
) -> list[dict[str, Any]]:
    """`GET /admin/guards/{guard_id}/decisions` on `worker`, whichever worker owns the guard; retried while the
    owner is being settled (503: a rebalance or a recovery)."""
    answers: list[requests.Response] = []

    def answered() -> bool:
        url = f"{worker.url}/admin/guards/{guard_id}/decisions"
        answers.append(requests.get(url, headers=headers, timeout=30))
        assert answers[-1].status_code in (200, 503), answers[-1].text
        return answers[-1].status_code == 200

    wait_for(answered, 90, f"the decisions of guard {guard_id}", diagnose=lambda: answers[-1].text)
    return list(answers[-1].json()["data"])


def failing(app: str, version: str) -> list[Event]:
    """10 devices try `version` of `app`, 6 fail: a failure rate of 60 %, far above RULES' 5 %."""
    failed = events(app, "update_failed", 6, org=ORG, target_version=version, current_version="1.0.0")
    return failed + events(
        app, "update_installed", 4, org=ORG, target_version=version, current_version="1.0.0"
    )


def passing(app: str, version: str) -> list[Event]:
    """10 devices install `version` of `app`, none fails: the gate passes."""
    return events(app, "update_installed", 10, org=ORG, target_version=version, current_version="1.0.0")


def guard_passes(*workers: Worker) -> float:
    return sum(metric(w, "ota_guard_evaluations_total") for w in workers)


def wait_guard_passes(count: int, *workers: Worker) -> None:
    """Wait until the workers have made `count` more guard evaluation passes than now."""
    target = guard_passes(*workers) + count
    wait_for(lambda: guard_passes(*workers) >= target, 90, f"{count} guard evaluation passes")


def decided(deliveries: list[Delivery]) -> dict[tuple[str, str], set[str]]:
    """The decision ids received per (guard_id, version): one each when every decision was made once."""
    found: dict[tuple[str, str], set[str]] = {}
    for delivery in deliveries:
        body = delivery.payload
        found.setdefault((body["guard_id"], body["version"]), set()).add(body["decision_id"])
    return found
