"""The React Native client (clients/react-native), as built, against a real worker.

A Node driver (clients/react-native/test/integration/driver.mjs) plays a fleet of devices, one client each over
one file storage. Between it and the worker a proxy drops connections, answers 503 with Retry-After, and resets
connections after the worker accepted a batch; halfway the driver is killed while the worker holds a batch it
was never told about, and a second run (the app's next start) finishes. Whatever the network did, each event the
driver planned counts exactly once, and the analytics equal an independent computation over the plan.

Launches and crashes: each launch of an app is a Node process of its own (test/integration/app-run.mjs) that
calls trackLaunch and then ends as planned: a clean exit, trackExit, a fatal JS error that React Native's handler
turns into the process's death, or a kill -9 (a native crash). A crash reaches the worker only through the next
launch; /analytics/stability equals the computation over the launches and the crashes the plan made.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import expected_stability, flaky_proxy
from tests.support.diagnosis import group_offsets
from tests.support.expected import Window, assert_same
from tests.support.flaky_proxy import FlakyProxy
from tests.support.processes import ROOT, Worker, unique_name, wait_for
from tests.support.worker_api import ENDPOINTS, ask_endpoint, every_endpoint, scrape, wait_processed

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "clients" / "react-native"
DRIVER = CLIENT / "test" / "integration" / "driver.mjs"
APP_RUN = CLIENT / "test" / "integration" / "app-run.mjs"
EVENTS = 3000
# What the SDK reports for a launch that ended without a clean exit (clients/react-native/README.md).
ABNORMAL_EXIT_MESSAGE = "the previous launch ended without a clean exit"
FATAL_MESSAGES = ["undefined is not an object (evaluating 'cart.items')", "Maximum call stack size exceeded"]


@pytest.fixture(scope="module")
def built_client() -> Path:
    """The package built from its sources now (dependencies installed from the lock file if missing)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "the client tests need Node.js 18+ and npm"
    if not (CLIENT / "node_modules" / ".bin" / "tsc").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True, timeout=600)
    subprocess.run([npm, "run", "build", "--silent"], cwd=CLIENT, check=True, timeout=300)
    return CLIENT / "dist" / "index.js"


@pytest.fixture
def proxy(worker: Worker) -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(worker.url, seed=16)
    flaky.start()
    yield flaky
    flaky.stop()


def test_flaky_network_and_a_crash_count_each_event_once(
    worker: Worker, proxy: FlakyProxy, built_client: Path, tmp_path: Path
) -> None:
    tenant = unique_name("sdk")
    run = tmp_path / "run"
    command = ["node", str(DRIVER), "--url", proxy.url, "--dir", str(run), "--tenant", tenant]
    crash_and_resume([*command, "--events", str(EVENTS)], [*command, "--resume"], proxy, tmp_path)

    planned = [json.loads(line) for line in (run / "plan.jsonl").read_text().splitlines()]
    valid = [entry["event"] for entry in planned if not entry["invalid"]]
    invalid_ids = {entry["event"]["event_id"] for entry in planned if entry["invalid"]}
    assert len(planned) >= EVENTS and invalid_ids, "the plan has events and some the server must reject"

    exchanges = proxy.exchanges()
    accepted = [event_id for exchange in exchanges for event_id in exchange.accepted_ids]
    server_rejected = {event_id for exchange in exchanges for event_id in exchange.rejected_ids}
    assert set(accepted) == {event["event_id"] for event in valid}, "every valid event reached the worker"
    assert server_rejected == invalid_ids
    reported = [json.loads(line) for line in (run / "errors.jsonl").read_text().splitlines()]
    assert {error["type"] for error in reported} == {"rejected"}, "nothing was dropped or refused"
    assert {event_id for error in reported for event_id in error["ids"]} == invalid_ids

    faults = Counter(exchange.fault for exchange in exchanges)
    assert all(faults[kind] > 0 for kind in ("drop", "unavailable", "reset", "held")), faults
    held = next(exchange for exchange in exchanges if exchange.fault == flaky_proxy.HELD)
    resent = {event_id for exchange in exchanges[held.number :] for event_id in exchange.ids}
    assert set(held.ids) <= resent, "the batch held at the crash was sent again after the restart"

    duplicates = len(accepted) - len(set(accepted))
    assert duplicates > 0, "resets after processing made the worker see events again"
    # The sink also drops as duplicates the rows of a batch that Kafka delivers again after a rebalance before its
    # first offset commit (Faust rebalances once more when its changelog topics appear): at least the client's
    # resends are dropped, and each event still counts once (processed, and every endpoint below).
    wait_processed(worker, len(valid))
    wait_for(
        lambda: scrape(worker)["ota_pipeline_duplicates_dropped_total"][()] >= duplicates,
        60,
        f"at least the {duplicates} resent events dropped as duplicates",
    )
    samples = scrape(worker)
    assert samples["ota_pipeline_events_processed_total"][()] == len(valid)
    assert samples["ota_ingest_accepted_total"][()] == len(accepted)

    now = datetime.now(UTC)
    window = Window(tenant, now - timedelta(days=2), now + timedelta(hours=1))
    for (name, extra, compute), got in zip(ENDPOINTS, every_endpoint(worker, window).values(), strict=True):
        assert_same(got, compute(valid, window, *extra.values()), f"{name} {extra}")

    sent = sum(len(exchange.ids) for exchange in exchanges)
    print(
        "\nclient SDK figures:",
        json.dumps(
            {
                "events_planned": len(planned),
                "events_valid": len(valid),
                "events_rejected_by_server": len(invalid_ids),
                "requests": len(exchanges),
                "faults": dict(faults),
                "event_sends": sent,
                "event_resends": sent - len(set(id_ for exchange in exchanges for id_ in exchange.ids)),
                "accepted_deliveries": len(accepted),
                "duplicates_dropped_by_server": duplicates,
                "events_processed": len(valid),
            }
        ),
    )


def crash_and_resume(
    first: list[str], second: list[str], proxy: FlakyProxy, tmp_path: Path
) -> dict[str, Any]:
    """Runs the driver, kills it -9 while the worker holds an accepted batch, and runs it again to the end."""
    with (tmp_path / "driver-1.log").open("wb") as log:
        process = subprocess.Popen(first, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:

            def running(condition: bool) -> bool:
                assert process.poll() is None, f"the driver ended by itself: {log_text(tmp_path, 1)}"
                return condition

            wait_for(
                lambda: running(proxy.count(lambda x: x.upstream_status == 202) >= 10), 120, "10 batches"
            )
            held = proxy.hold_next_accepted()
            wait_for(lambda: running(held.is_set()), 120, "a batch accepted by the worker, held by the proxy")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    proxy.release()
    with (tmp_path / "driver-2.log").open("wb") as log:
        finished = subprocess.run(second, stdout=subprocess.PIPE, stderr=log, timeout=300)
    assert finished.returncode == 0, log_text(tmp_path, 2)
    report: dict[str, Any] = json.loads(finished.stdout.decode().splitlines()[-1])
    assert report["stats"]["dropped"] == 0 and report["stats"]["refused"] == 0, report
    return report


def log_text(tmp_path: Path, run: int) -> str:
    return (tmp_path / f"driver-{run}.log").read_text(errors="replace")[-3000:]


def launch_plan(seed: int, devices: int, launches: int) -> list[dict[str, Any]]:
    """Per device, launches in order: the version each runs (an update after the first half), its duration (or
    none), and how it ends. The last launch of a device ends cleanly: it delivers what the one before left."""
    rng = random.Random(seed)
    plan = []
    for n in range(devices):
        for i in range(launches):
            outcome = (
                "clean" if i == launches - 1 else rng.choice(["clean", "exit", "fatal", "fatal", "native"])
            )
            plan.append(
                {
                    "device": f"sdk-launch-{n}",
                    "app": ["shop", "chat"][n % 2],
                    "version": "2.0.0" if i < launches // 2 else ["2.1.0", "2.1.1"][n % 2],
                    "duration": None if rng.random() < 0.2 else round(rng.uniform(0.3, 4.0), 3),
                    "outcome": outcome,
                    "message": rng.choice(FATAL_MESSAGES),
                }
            )
    return plan


def planned_crash(step: dict[str, Any]) -> tuple[str, str] | None:
    """(error_code, error_message) of the crash a launch's ending must be reported as, if any."""
    if step["outcome"] == "fatal":
        return ("JS_FATAL", f"TypeError: {step['message']}")
    if step["outcome"] == "native":
        return ("ABNORMAL_EXIT", ABNORMAL_EXIT_MESSAGE)
    return None


def crash_event(launched: dict[str, Any], version: str, crash: tuple[str, str]) -> dict[str, Any]:
    """The crash of a launch's session, as the plan says it happened. Its time is the launch's: the window holds
    both, and the session's version is the one both name, whatever the crash's own time."""
    same = ("tenant_id", "org_id", "app_id", "device_id", "timestamp", "session_id")
    return {key: launched[key] for key in same} | {
        "event_type": "app_crashed",
        "release_info": {"current_version": version},
        "error_info": {"error_code": crash[0], "error_message": crash[1]},
    }


def test_launches_and_crashes_reach_the_stability_figures(
    worker: Worker, built_client: Path, tmp_path: Path
) -> None:
    tenant = unique_name("sdk")
    plan = launch_plan(seed=28, devices=4, launches=6)
    for step in plan:
        command = ["node", str(APP_RUN), "--url", worker.url, "--dir", str(tmp_path), "--tenant", tenant,
                   "--app", step["app"], "--device", step["device"], "--version", step["version"],
                   "--outcome", step["outcome"], "--message", step["message"]]  # fmt: skip
        if step["duration"] is not None:
            command += ["--duration", str(step["duration"])]
        ended = subprocess.run(command, capture_output=True, timeout=120)
        assert ended.returncode == -signal.SIGKILL and ended.stderr == b"", (
            step,
            ended.stderr.decode()[-2000:],
        )
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [(r["device"], r["outcome"]) for r in runs] == [(s["device"], s["outcome"]) for s in plan]

    # What the plan made happen: each launch, and a crash of its session for each launch that did not end well.
    sent: list[dict[str, Any]] = []
    for step, run, following in zip(plan, runs, [*runs[1:], None], strict=True):
        launched = run["launched"]
        assert launched["session_id"] == run["session_id"] and launched["release_info"] == {
            "current_version": step["version"]
        }
        assert launched.get("performance_metrics", {}).get("launch_duration_seconds") == step["duration"]
        sent.append(launched)
        crash = planned_crash(step)
        reported = (
            following["previous_crash"] if following and following["device"] == step["device"] else None
        )
        if crash is None:
            assert reported is None, (step, reported)
            continue
        assert reported is not None, f"the launch after {step} reported no crash"
        error = reported["error_info"]
        assert (error["error_code"], error["error_message"]) == crash
        assert reported["session_id"] == run["session_id"]
        assert reported["release_info"] == {"current_version": step["version"]}
        sent.append(crash_event(launched, step["version"], crash))
    outcomes = Counter(step["outcome"] for step in plan)
    assert all(outcomes[kind] > 0 for kind in ("clean", "exit", "fatal", "native")), outcomes

    # Each event once: no crash reported twice, none as both JS_FATAL and ABNORMAL_EXIT.
    wait_processed(worker, len(sent), duplicates=0)
    wait_for(
        lambda: all((committed or 0) == end for _, end, committed in group_offsets(worker)),
        60,
        "the worker's group to commit every offset of the topic",
    )
    samples = scrape(worker)
    assert samples["ota_ingest_accepted_total"][()] == len(sent), "each event was accepted once"
    assert samples["ota_pipeline_events_processed_total"][()] == len(sent)

    now = datetime.now(UTC)
    window = Window(tenant, now - timedelta(hours=1), now + timedelta(hours=1))
    stability = ask_endpoint(worker, window, "stability", {})
    assert_same(stability, expected_stability.stability(sent, window), "stability")
    figures = {row["version"]: row for row in stability["versions"]}
    assert figures.keys() == {"2.0.0", "2.1.0", "2.1.1"}
    assert any(row["crashed_sessions"] for row in figures.values()), "crashes were counted"
    for version in figures:
        one = ask_endpoint(worker, window, "stability", {"version": version})
        assert_same(one, expected_stability.stability(sent, window, version), f"stability of {version}")
    print(
        "\nSDK launches:",
        json.dumps({"launches": len(runs), "outcomes": dict(outcomes), "events": len(sent)}),
    )
