"""The dashboard's first full load in headless Chromium, on data that analytics_bench.py loaded.

    .venv/bin/python -m bench.dashboard_load --data-dir /tmp/exp10m --runs 5

Starts a broker (scripts/kafka/kafka.sh) unless --brokers is given, and runs `ota-stream worker` with keys off on the
bench's chDB folder itself (database `bench`; chDB's folders do not survive a copy, their tables are symlinked by
absolute path), where the worker adds its own tables beside the bench's. Each run opens a fresh browser context and
times two loads, each until every panel of the page says ready (the panels tests/test_dashboard.py waits for):
- signing in as tenant `acme`: the page lists the apps and opens the first (the first full load a person sees);
- then picking the app `consumer/shop`, the bench's largest.
The first run is the first after the worker started. Prints each load's time, how many requests the page made and
the slowest of them (they queue: the worker runs one chDB query at a time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.harness import broker, free_port, wait_healthy
from tests.support.browser import chromium, wait_ready

BIN = Path(sys.executable).parent
TENANT, APP = "acme", "consumer/shop"


def start_worker(brokers: str, data: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "KAFKA_BROKERS": brokers, "KAFKA_TOPIC": f"dash-{uuid.uuid4().hex[:8]}",
           "DATA_DIR": str(work), "SERVER_PORT": str(port), "CLICKHOUSE_URL": f"chdb://{data}",
           "CLICKHOUSE_DATABASE": "bench", "AUTH_REQUIRED": "false", "KAFKA_DEV_BROKER": "true",
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    log = (work / "worker.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "ota-stream"), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
    except TimeoutError:
        process.terminate()
        raise TimeoutError(f"the worker did not answer; see {work / 'worker.log'}") from None
    return process, url


def one_load(browser: object, url: str) -> list[tuple[str, float, list[tuple[float, str]]]]:
    """Two loads in one fresh browser context: signing in, until every panel of the app the page opens first is
    ready; then picking APP, until every panel of it is ready. Each: (what, seconds, [(ms, path) of each request])."""
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    timings: list[tuple[float, str]] = []
    started: dict[object, float] = {}
    page.on("request", lambda r: started.__setitem__(r, time.perf_counter()))
    page.on("requestfinished", lambda r: timings.append(((time.perf_counter() - started[r]) * 1000, r.url)))
    loads = []

    def timed(what: str, action: Callable[[], None], app: str) -> None:
        timings.clear()
        begin = time.perf_counter()
        action()
        page.wait_for_function(
            "(app) => document.getElementById('status').textContent.includes(app)", arg=app
        )
        wait_ready(page, timeout_ms=300_000)
        seconds = time.perf_counter() - begin
        loads.append((what, seconds, [(ms, u.split(url, 1)[-1]) for ms, u in timings]))

    try:
        page.goto(f"{url}/dashboard")
        page.get_by_label("Tenant").fill(TENANT)
        page.get_by_label("Read key").fill("keys-are-off")
        timed("sign in, first app", lambda: page.get_by_label("Read key").press("Enter"), "app ")
        timed(f"pick {APP}", lambda: page.get_by_label("App").select_option(APP), APP.replace("/", " / "))
        return loads
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The dashboard's first full load in Chromium.")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="a chDB folder analytics_bench.py loaded"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--brokers", help="an existing broker; by default a fresh one is started")
    parser.add_argument(
        "--slowest", type=int, default=3, help="how many of a run's slowest requests to print"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    scratch = Path(tempfile.mkdtemp(prefix="ota-dashboard-bench-"))
    try:
        data = args.data_dir.resolve()
        work = scratch / "worker"
        work.mkdir()
        with broker(args.brokers, scratch) as brokers:
            process, url = start_worker(brokers, data, work)
            try:
                firsts: list[float] = []
                picks: list[float] = []
                with chromium() as browser:
                    for run in range(args.runs):
                        for what, seconds, requests_made in one_load(browser, url):
                            (firsts if what.startswith("sign in") else picks).append(seconds)
                            slowest = sorted(requests_made, reverse=True)[: args.slowest]
                            described = "; ".join(f"{path} {ms:.0f} ms" for ms, path in slowest)
                            print(f"run {run + 1}, {what}: {seconds * 1000:.0f} ms, {len(requests_made)} requests; "
                                  f"slowest: {described}")  # fmt: skip
                for what, values in (("sign in to the first app ready", firsts), (f"pick {APP}", picks)):
                    print(f"{what}: first run {values[0] * 1000:.0f} ms, median {statistics.median(values) * 1000:.0f} "
                          f"ms of {len(values)}")  # fmt: skip
            except Exception:
                print((work / "worker.log").read_text()[-4000:], file=sys.stderr)
                raise
            finally:
                process.terminate()
                process.wait(60)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
