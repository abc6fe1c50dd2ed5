"""Alert latency: from the POST of the event that breaches a rule to the signed webhook's arrival (docs/alerts.md).

    .venv/bin/python -m bench.alert_latency                      # production windows: 60 s, a pass every 5 s
    .venv/bin/python -m bench.alert_latency --window-seconds 2 --interval 0.5
    .venv/bin/python -m bench.alert_latency --kafka-port 9092    # a broker already running on 127.0.0.1

It starts a broker (unless given one), one real worker with keys required, and a local webhook receiver, makes one
failure_rate rule over an org, then makes `--tries` apps breach it: each try POSTs 6 failures and 2 installs of a
new app in one batch, and its latency runs from just before that POST until the receiver holds the app's `firing`
delivery (signature checked). One warm-up breach before them is not counted.

A rule reads closed windows only, so a latency is bounded below by the wait for the event's window to close:
uniform over the window for a POST at a random moment. The tries are therefore spread evenly over two window
lengths (each its own app), so that they sample every phase of the window instead of the same one; overlapping
tries cost the worker little (one app each).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.alerts import ALERT_ENV, events, ingest_key, make_rule, send
from tests.support.processes import Kafka, Worker, free_port, wait_for
from tests.support.receiver import Receiver, receiving
from tests.support.scenario import Event

ORG = "bench"
PATH = "/bench"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def arrival(receiver: Receiver, app: str, secret: str) -> float | None:
    for delivery in receiver.at(PATH):
        if delivery.payload["app_id"] == app and delivery.payload["state"] == "firing":
            assert delivery.signed_with(secret)
            return delivery.received_at
    return None


def breach(app: str) -> list[Event]:
    """75 % failures over 8 events: above the rule's 20 %, with min_events 5."""
    return events(app, "update_failed", 6, org=ORG) + events(app, "update_installed", 2, org=ORG)


def measure(worker: Worker, receiver: Receiver, tries: int, window_seconds: float) -> list[float]:
    key = ingest_key(worker)
    rule = make_rule(
        worker, f"{receiver.url}{PATH}", org_id=ORG, threshold=20, window_minutes=10, min_events=5
    )
    run = uuid.uuid4().hex[:6]
    # A first breach, not counted: a fresh worker's first batch and pass carry start-up costs.
    warm_up = f"app-{run}-warm-up"
    send(worker, key, breach(warm_up))
    wait_for(
        lambda: arrival(receiver, warm_up, rule["secret"]), 4 * window_seconds + 120, "the warm-up delivery"
    )
    spacing = 2 * window_seconds / tries
    posted: dict[str, float] = {}
    first = time.time()
    for n in range(tries):
        time.sleep(max(0.0, first + n * spacing - time.time()))
        app = f"app-{run}-{n}"
        posted[app] = send(worker, key, breach(app))
    wait_for(
        lambda: all(arrival(receiver, app, rule["secret"]) for app in posted),
        4 * window_seconds + 120,
        "every try's firing delivery",
    )
    return [arrival(receiver, app, rule["secret"]) - at for app, at in posted.items()]  # type: ignore[operator]


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return f"{cpu}, nproc {os.cpu_count()}; {platform.platform()}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument(
        "--window-seconds", type=int, default=60, help="LIVE_WINDOW_SECONDS (default: production)"
    )
    parser.add_argument("--interval", type=float, default=5.0, help="ALERT_EVALUATION_INTERVAL_SECONDS")
    parser.add_argument("--kafka-port", type=int, help="a broker already listening on 127.0.0.1:PORT")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ota-alert-bench-"))
    kafka = Kafka(scratch / "kafka", args.kafka_port or free_port(2))
    if args.kafka_port is None:
        kafka.up()
    env = {
        **ALERT_ENV,
        "LIVE_WINDOW_SECONDS": str(args.window_seconds),
        "ALERT_EVALUATION_INTERVAL_SECONDS": str(args.interval),
        "FLUSH_INTERVAL_SECONDS": "1",  # the default: the worker as deployed
    }
    worker = Worker(scratch / "worker", kafka, f"bench-alerts-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}",
                    env=env)  # fmt: skip
    load_before = os.getloadavg()
    try:
        with receiving() as receiver:
            worker.start()
            latencies = measure(worker, receiver, args.tries, args.window_seconds)
    finally:
        worker.stop()
        if args.kafka_port is None:
            kafka.down()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    load_after = os.getloadavg()
    ms = [1000 * latency for latency in latencies]
    print(f"machine: {machine()}")
    print(f"LIVE_WINDOW_SECONDS={args.window_seconds} ALERT_EVALUATION_INTERVAL_SECONDS={args.interval}, "
          f"{args.tries} tries spread over {2 * args.window_seconds} s")  # fmt: skip
    print(
        f"load average before {load_before[0]:.1f}/{load_before[1]:.1f}, after {load_after[0]:.1f}/{load_after[1]:.1f}"
    )
    print(f"latency ms: p50 {percentile(ms, 0.5):.0f}, p95 {percentile(ms, 0.95):.0f}, "
          f"min {min(ms):.0f}, max {max(ms):.0f}, mean {statistics.fmean(ms):.0f}")  # fmt: skip
    print("each, in POST order:", ", ".join(f"{value:.0f}" for value in ms))


if __name__ == "__main__":
    main()
