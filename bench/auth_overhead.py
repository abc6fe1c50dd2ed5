"""What keys cost: the default worker with AUTH_REQUIRED=true against the same with it off, side by side.

    .venv/bin/python -m bench.auth_overhead --rounds 2 --seconds 10

For each round, in alternating order, starts `ota-stream worker` with keys required (an ingest and a read key made
with `ota-stream keys create`, rate limits off) and without, then loads POST /events/batch (1,000 events per
request, concurrency 16) and GET /analytics/adoption (concurrency 16) with `wrk`. Reports the median events/s and
requests/s and the ratio with keys to without.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench.harness import ROOT, alternating, broker, free_port
from bench.ingest_peers import BATCH, BIN, wait_healthy, wrk

ANALYTICS = ROOT / "bench" / "wrk" / "analytics.lua"
PROGRAMS = ("keys required", "keys off")


def make_key(env: dict[str, str], scope: str) -> str:
    made = subprocess.run([str(BIN / "ota-stream"), "keys", "create", "--tenant", "bench", "--scope", scope],
                          env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return made.stdout.strip().splitlines()[-1]


def measure(program: str, brokers: str, scratch: Path, seconds: int) -> tuple[float, float]:
    """(events/s on the batch route, requests/s on adoption)"""
    work = scratch / f"{program.replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    port = free_port()
    topic = f"auth-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic, "DATA_DIR": str(work),
           "SERVER_PORT": str(port), "LOG_LEVEL": "WARNING", "KAFKA_CONSUMER_GROUP": f"g-{topic}",
           "RATE_LIMIT_INGEST_EVENTS_PER_SECOND": "0", "RATE_LIMIT_READ_REQUESTS_PER_SECOND": "0",
           "AUTH_REQUIRED": "true" if program == "keys required" else "false"}  # fmt: skip
    ingest_key = make_key(env, "ingest") if program == "keys required" else ""
    read_key = make_key(env, "read") if program == "keys required" else ""
    with (work / "server.log").open("wb") as log:
        process = subprocess.Popen([str(BIN / "ota-stream"), "worker"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        events, _, _, failed = wrk(url, BATCH, 16, seconds, ingest_key)
        assert failed == 0, f"{failed} failed batch requests"
        reads, _, _, failed = wrk(url, ANALYTICS, 16, seconds, read_key)
        assert failed == 0, f"{failed} failed analytics requests"
        return events * 1000, reads
    finally:
        process.terminate()
        process.wait(60)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--brokers", default=None, help="an existing broker; by default a fresh one is started"
    )
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {program: [] for program in PROGRAMS}
    scratch = Path(tempfile.mkdtemp(prefix="ota-auth-bench-"))
    try:
        with broker(args.brokers, scratch) as brokers:
            for round_, program in alternating(PROGRAMS, args.rounds):
                results[program].append(measure(program, brokers, scratch, args.seconds))
                print(f"round {round_}: {program}: {results[program][-1]}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    batch = {p: statistics.median(r[0] for r in results[p]) for p in PROGRAMS}
    reads = {p: statistics.median(r[1] for r in results[p]) for p in PROGRAMS}
    print("\n| route | keys required | keys off | with / without |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| POST /events/batch, events/s | {batch[PROGRAMS[0]]:,.0f} | {batch[PROGRAMS[1]]:,.0f} | "
          f"{batch[PROGRAMS[0]] / batch[PROGRAMS[1]]:.2f} |")  # fmt: skip
    print(f"| GET /analytics/adoption, requests/s | {reads[PROGRAMS[0]]:,.0f} | {reads[PROGRAMS[1]]:,.0f} | "
          f"{reads[PROGRAMS[0]] / reads[PROGRAMS[1]]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
