"""`ota-stream gate` against a real worker with keys (AUTH_REQUIRED=true): its three exit codes, the verdict and
reasons it prints equal to the health route's (and to the plain-Python gate of expected_decisions.py), the tenant
taken from the read key."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from tests.support import decision_scenario as case
from tests.support import expected_decisions
from tests.support.expected import Window
from tests.support.keys import ADMIN, make_key
from tests.support.loaded import NOW
from tests.support.processes import BIN, Kafka, Worker, remove, unique_name, wait_for
from tests.support.scenario import Event
from tests.support.worker_api import wait_processed

WINDOW = Window(case.TENANT, NOW - timedelta(days=30), NOW, case.ORG, case.APP)  # the route's default window


@pytest.fixture(scope="module")
def keyed(
    kafka: Kafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Worker, str, list[Event]]]:
    directory = tmp_path_factory.mktemp("gate")
    env = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN}
    worker = Worker(directory, kafka, unique_name("ota-events"), unique_name("ota-group"), env=env)
    worker.start()
    try:
        sent = case.decision_events(NOW)
        ingest = make_key(worker, case.TENANT, "ingest")["key"]
        answers: list[requests.Response] = []

        def posted() -> bool:  # a new key reaches the ingest processes through the keys topic: 401 until then
            answers.append(requests.post(f"{worker.url}/events/batch", json=sent, timeout=60,
                                         headers={"Authorization": f"Bearer {ingest}"}))  # fmt: skip
            return answers[-1].status_code != 401

        wait_for(posted, 30, "the ingest key known", diagnose=lambda: answers[-1].text)
        assert answers[-1].status_code == 202 and answers[-1].json()["accepted"] == len(sent), answers[
            -1
        ].text
        wait_processed(worker, len(sent), 0)
        yield worker, make_key(worker, case.TENANT, "read")["key"], sent
    finally:
        worker.stop()
        remove(directory)


def gate(worker: Worker, key: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OTA_STREAM_URL": worker.url, "OTA_STREAM_READ_KEY": key}
    command = [str(BIN / "ota-stream"), "gate", "--app", case.APP, "--org", case.ORG, "--version", case.NEW]
    return subprocess.run([*command, *options], env=env, capture_output=True, text=True, timeout=120)


def test_pass_fail_and_no_verdict_exit_0_1_and_2(keyed: tuple[Worker, str, list[Event]]) -> None:
    worker, key, sent = keyed
    # 5.0.0: 4 devices, 2 installed and 2 that only failed (50 %), and half its sessions crashed.
    runs = [
        (["--min-devices", "1", "--max-failure-rate", "60"], dict(max_failure_rate=60, min_devices=1), 0),
        (["--min-devices", "1"], dict(min_devices=1), 1),
        (["--min-devices", "1", "--max-failure-rate", "60", "--baseline", "previous"],
         dict(max_failure_rate=60, min_devices=1, baseline="previous"), 1),  # crash-free 50 against 100: significant
        (["--min-devices", "1", "--max-failure-rate", "60", "--confidence"],
         dict(max_failure_rate=60, min_devices=1, confidence=True), 2),  # 2 of 4: [15, 85] % crosses 60
        ([], {}, 2),  # 4 devices, fewer than the default 50
    ]  # fmt: skip
    for options, rules, code in runs:
        want = expected_decisions.health(sent, WINDOW, case.NEW, **rules)  # type: ignore[arg-type]
        done = gate(worker, key, *options)
        assert done.returncode == code, (options, done.stdout, done.stderr)
        assert f"verdict: {want['verdict']} ({case.NEW}, 4 devices)" in done.stdout, done.stdout
        for reason in want["reasons"]:
            assert f"- {reason}" in done.stdout, (reason, done.stdout)


def test_a_refusal_ends_the_wait_at_once_without_a_verdict(keyed: tuple[Worker, str, list[Event]]) -> None:
    worker, key, _ = keyed
    done = gate(worker, key, "--baseline", "b" * 129, "--wait", "10m")  # a 422: waiting cannot cure it
    assert done.returncode == 2 and "HTTP 422" in done.stdout and "- baseline:" in done.stdout, done.stdout
    done = gate(worker, "ota_not_a_key", "--wait", "10m")
    assert done.returncode == 2 and "HTTP 401" in done.stdout, done.stdout
