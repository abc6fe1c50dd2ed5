"""Keys and alert rules while Kafka is away (issue 26): their topics are where a change is stored, so making or
revoking one answers 503 with Retry-After, never 500, and works again once the broker is back. Keys already known
keep working meanwhile: every process holds them in memory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from tests.support.keys import ADMIN, SECURED, make_key
from tests.support.processes import Kafka, Worker, unique_name, wait_for

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
ACK_TIMEOUT = 3.0  # INGEST_ACK_TIMEOUT_SECONDS: how long a change waits for Kafka
RULE: dict[str, Any] = {
    "tenant_id": "acme", "metric": "failure_rate", "threshold": 20, "window_minutes": 10, "min_events": 5,
    "webhook_url": "https://93.184.215.14/hooks/ota",
}  # fmt: skip


def changes(worker: Worker, key_id: str, rule_id: str) -> dict[str, requests.Response]:
    """One attempt at each change an admin can make: a key and a rule made, a key revoked, a rule deleted."""
    url = worker.url
    return {
        "make a key": requests.post(f"{url}/admin/keys", json={"tenant_id": "acme", "scopes": ["read"]},
                                    headers=ADMIN_HEADERS, timeout=60),
        "revoke a key": requests.delete(f"{url}/admin/keys/{key_id}", headers=ADMIN_HEADERS, timeout=60),
        "make a rule": requests.post(f"{url}/admin/alerts", json=RULE, headers=ADMIN_HEADERS, timeout=60),
        "delete a rule": requests.delete(f"{url}/admin/alerts/{rule_id}", headers=ADMIN_HEADERS, timeout=60),
    }  # fmt: skip


def made(worker: Worker) -> bool:
    """One attempt at making a key: True when made, False when Kafka is not there yet (503)."""
    answer = requests.post(f"{worker.url}/admin/keys", json={"tenant_id": "acme", "scopes": ["read"]},
                           headers=ADMIN_HEADERS, timeout=60)  # fmt: skip
    assert answer.status_code in (201, 503), answer.text
    return answer.status_code == 201


def test_admin_changes_answer_503_while_kafka_is_down(own_broker: Kafka, tmp_path: Path) -> None:
    own_broker.up()
    env = {**SECURED, "INGEST_ACK_TIMEOUT_SECONDS": str(ACK_TIMEOUT)}
    worker = Worker(tmp_path / "w", own_broker, unique_name("ota-events"), unique_name("ota-group"), env=env)
    try:
        worker.start()
        doomed, reader = make_key(worker, "acme", "admin"), make_key(worker, "acme", "read")
        rule = requests.post(f"{worker.url}/admin/alerts", json=RULE, headers=ADMIN_HEADERS, timeout=60)
        assert rule.status_code == 201, rule.text
        own_broker.down()
        started = time.monotonic()
        answers = changes(worker, doomed["key_id"], rule.json()["data"]["rule_id"])
        elapsed = time.monotonic() - started
        for what, answer in answers.items():
            assert answer.status_code == 503, (what, answer.status_code, answer.text)
            assert (
                answer.headers["Retry-After"] == "5"
                and answer.json()["error"]["code"] == "service_unavailable"
            )
        assert elapsed < len(answers) * (ACK_TIMEOUT + 10), elapsed  # each waited about its timeout, no more
        known = requests.get(f"{worker.url}/analytics/apps", headers={"X-API-Key": reader["key"]}, timeout=60)
        assert known.status_code == 200, known.text  # keys already read are still checked, from memory

        own_broker.up()
        wait_for(
            lambda: made(worker), 120, "a key to be made once the broker is back", diagnose=worker.log_tail
        )
        revoked = requests.delete(
            f"{worker.url}/admin/keys/{doomed['key_id']}", headers=ADMIN_HEADERS, timeout=60
        )
        assert revoked.status_code == 200 and revoked.json()["data"]["revoked_at"], revoked.text
        unknown = requests.get(f"{worker.url}/admin/keys", headers={"X-API-Key": doomed["key"]}, timeout=60)
        assert unknown.status_code == 401  # the revocation was stored, and read back
    finally:
        worker.stop()


def test_a_first_change_made_while_kafka_is_down_does_not_keep_later_ones_from_kafka(
    own_broker: Kafka, tmp_path: Path
) -> None:
    """The store's producer starts with its first change; one whose start failed was kept, and every later change
    answered 503 until the worker restarted."""
    own_broker.up()
    env = {**SECURED, "INGEST_ACK_TIMEOUT_SECONDS": str(ACK_TIMEOUT)}
    worker = Worker(tmp_path / "w", own_broker, unique_name("ota-events"), unique_name("ota-group"), env=env)
    try:
        worker.start()
        own_broker.down()
        assert not made(worker)
        own_broker.up()
        wait_for(
            lambda: made(worker), 120, "a key to be made once the broker is back", diagnose=worker.log_tail
        )
    finally:
        worker.stop()
