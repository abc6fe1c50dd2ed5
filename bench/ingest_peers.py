"""Ingest speed side by side: our worker against the best plain aiohttp + aiokafka handler, loaded by wrk.

    .venv/bin/python -m bench.ingest_peers --rounds 3 --seconds 20

Starts a broker (scripts/kafka/kafka.sh) unless --brokers is given, then for each round, in alternating order:
- `ota-stream worker` with its defaults (all-in-one: the stream processing plus its ingest process in front);
- the same with INGEST_PROCESSES=0 (one process, as before ingest processes existed);
- `ota-stream ingest` alone (WORKER_ROLE=process deployments put this in front of their workers);
- bench/ingest_reference.py, the reference.
Each program gets --warmup seconds of load at 16 before it is measured, and the broker --broker-warmup seconds
(through the reference) before the first round: whichever program ran first on a fresh broker measured at about
0.7x of its later rounds. Ours run as shipped, with keys required: the load carries an ingest key. Each is loaded
with `wrk` (Debian) at concurrencies 16, 64 and 256 on POST /events with a realistic 600-byte event and unique ids
(bench/wrk/single_event.lua), and at 16 with POST /events/batch of 1,000 events (bench/wrk/batch_events.lua).
Reports events/s, p50/p99 and the peak RSS of each process, and the ratios to the reference, as a Markdown table.

`--seed-binary PATH` adds the seed's own server (a built `airborne_analytics_server`, made outside this repository
from juspay/airborne with `cargo build --release -p airborne_analytics_server`; rdkafka's build needs cmake and the
curl, SSL and SASL headers) as the program "seed": it runs in its Kafka + ClickHouse mode on the same broker, from its
crate's folder (it runs ./init-clickhouse.sql at start), and needs a ClickHouse server for its consumer: by default
bench/peers/null_clickhouse.py, which takes the rows and discards them (`--seed-clickhouse URL` for a real one). It is
loaded with the same event in its own form on POST /analytics/events
(bench/wrk/airborne_event.lua). It has no batch route, so it has no batch row. It answers once its producer has queued
the event, without waiting for the broker's acknowledgement, where ours answer 202 after `acks=all`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.harness import ROOT, alternating, broker, cpu_seconds, free_port, peak_rss_mib, wait_healthy

BIN = Path(sys.executable).parent
SINGLE = ROOT / "bench" / "wrk" / "single_event.lua"
BATCH = ROOT / "bench" / "wrk" / "batch_events.lua"
SEED_EVENT = ROOT / "bench" / "wrk" / "airborne_event.lua"
SEED = "seed"
RESULT = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) non2xx=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)"
)


@dataclass
class Load:
    program: str
    route: str
    concurrency: int
    events_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    rss_mib: float
    cpu_cores: float = 0.0  # CPU seconds of the program's processes per second of load
    processes: str = ""  # each process: its name, peak RSS MiB and CPU cores


def wrk(url: str, script: Path, concurrency: int, seconds: int, key: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, failed requests)"""
    threads = min(2, concurrency)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, check=True, cwd=ROOT,  # the scripts load bench/wrk/common.lua
        env={**os.environ, "OTA_KEY": key},
    ).stdout  # fmt: skip
    match = RESULT.search(out)
    if match is None:
        raise RuntimeError(f"no RESULT line from wrk:\n{out}")
    requests_, micros, errors, non2xx, p50, p99 = match.groups()
    return int(requests_) / (int(micros) / 1e6), float(p50), float(p99), int(errors) + int(non2xx)


def tree(pid: int) -> list[int]:
    """A process and its descendants (the Faust worker, its ingest processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            for child in children.read_text().split():
                found += tree(int(child))
    return found


def tree_rss(pid: int) -> float:
    """Peak RSS of a process and its descendants, added up."""
    return sum(peak_rss_mib(each) for each in tree(pid))


def process_name(pid: int) -> str:
    """What a process runs: `ota-stream worker`, `-m ota_stream.web.front` (an ingest process), `-m bench...`."""
    words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    return " ".join(Path(word).name for word in words[1:3] if word)


def loaded(
    program: str, route: str, concurrency: int, url: str, script: Path, seconds: int, key: str, pid: int
) -> Load:
    """One wrk run, with the CPU each process of the program used during it and their peak RSS after it."""
    before = {each: cpu_seconds(each) for each in tree(pid)}
    rate, p50, p99, failed = wrk(url, script, concurrency, seconds, key)
    cores = {each: (cpu_seconds(each) - before.get(each, 0.0)) / seconds for each in tree(pid)}
    described = "; ".join(
        f"{process_name(each)} {peak_rss_mib(each):.0f} MiB {used:.2f} cores" for each, used in cores.items()
    )
    per_event = 1000 if script == BATCH else 1
    return Load(
        program,
        route,
        concurrency,
        rate * per_event,
        p50,
        p99,
        failed,
        tree_rss(pid),
        sum(cores.values()),
        described,
    )


@dataclass(frozen=True)
class Seed:
    """The seed's server, when --seed-binary is given: its binary and the ClickHouse its consumer writes to."""

    binary: Path
    clickhouse_url: str
    source: Path  # its crate's folder: the server runs its DDL from ./init-clickhouse.sql at start


def start(
    program: str, brokers: str, work: Path, port: int, seed: Seed | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The server, and the ingest key to load it with (ours require keys; the reference and the seed take none)."""
    topic = f"ingest-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic, "DATA_DIR": str(work),
           "SERVER_PORT": str(port), "LOG_LEVEL": "WARNING", "KAFKA_CONSUMER_GROUP": f"g-{topic}",
           "RATE_LIMIT_INGEST_EVENTS_PER_SECOND": "0",
           "KAFKA_DEV_BROKER": "true"}  # fmt: skip  # keys checked, no limit: throughput is measured
    key = ""
    if program == SEED:
        assert seed is not None
        # strum parses the variant's own name: its .env.kafka-clickhouse's "kafka-clickhouse" does not start it
        env.update(
            LOGGING_INFRASTRUCTURE="KafkaClickhouse", CLICKHOUSE_URL=seed.clickhouse_url, RUST_LOG="warn"
        )
        log = (work / "server.log").open("wb")
        return subprocess.Popen(
            [str(seed.binary)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=seed.source
        ), key
    if program != "reference":
        made = subprocess.run([str(BIN / "ota-stream"), "keys", "create", "--tenant", "bench", "--scope", "ingest"],
                              env=env, capture_output=True, text=True, check=True)  # fmt: skip
        key = made.stdout.strip().splitlines()[-1]
    if program == "reference":
        command = [sys.executable, "-m", "bench.ingest_reference", "--port", str(port), "--brokers", brokers,
                   "--topic", topic]  # fmt: skip
    elif program == "ingest only":
        command = [str(BIN / "ota-stream"), "ingest"]
    else:
        command = [str(BIN / "ota-stream"), "worker"]
        if program == "worker, one process":
            env["INGEST_PROCESSES"] = "0"
    log = (work / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT), key


def measure(
    program: str,
    brokers: str,
    scratch: Path,
    seconds: int,
    concurrencies: list[int],
    warmup: int,
    seed: Seed | None = None,
) -> list[Load]:
    work = scratch / f"{program.replace(' ', '-').replace(',', '')}-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process, key = start(program, brokers, work, port, seed)
    single = (
        SEED_EVENT if program == SEED else SINGLE
    )  # one row "/events" for both: the same event, two forms
    loads = []
    try:
        try:
            wait_healthy(url, path="/analytics/health" if program == SEED else "/health")
        except TimeoutError:
            print((work / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        if warmup:  # not measured: a worker that has just started is still settling (recovery, first merges)
            wrk(url, single, 16, warmup, key)
        for concurrency in concurrencies:
            loads.append(loaded(program, "/events", concurrency, url, single, seconds, key, process.pid))
        if program != SEED:  # the seed has no batch route
            loads.append(loaded(program, "/events/batch", 16, url, BATCH, seconds, key, process.pid))
    finally:
        process.terminate()
        process.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    return loads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--brokers", help="an existing broker; by default a fresh one is started")
    parser.add_argument("--programs", default="worker,worker, one process,ingest only,reference")
    parser.add_argument("--concurrency", default="16,64,256")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring each program")
    parser.add_argument(
        "--broker-warmup", type=int, default=20, help="seconds of load on the broker before round 1"
    )
    parser.add_argument("--seed-binary", type=Path, help="a built airborne_analytics_server, run as 'seed'")
    parser.add_argument(
        "--seed-clickhouse",
        help="the ClickHouse server the seed writes to; by default bench/peers/null_clickhouse.py, which takes "
        "the rows and discards them",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    seed = None
    null_clickhouse = None
    if args.seed_binary is not None:
        if not os.access(args.seed_binary, os.X_OK):
            sys.exit(f"--seed-binary {args.seed_binary}: not an executable file")
        binary = args.seed_binary.resolve()
        source = binary.parents[2] / "airborne_analytics_server"  # <workspace>/target/release/<binary>
        if not (source / "init-clickhouse.sql").exists():
            sys.exit(f"no {source / 'init-clickhouse.sql'}: --seed-binary must be in its workspace's target/")
        url = args.seed_clickhouse
        if url is None:
            port = free_port()
            null_clickhouse = subprocess.Popen(
                [sys.executable, "-m", "bench.peers.null_clickhouse", "--port", str(port)], cwd=ROOT
            )
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, path="/null-clickhouse/stats")
        seed = Seed(binary, url, source)
    scratch = Path(tempfile.mkdtemp(prefix="ota-ingest-bench-"))
    programs = [p.strip() for p in re.split(r",(?! )", args.programs)]
    if seed is not None and SEED not in programs:
        programs.append(SEED)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results: list[Load] = []
    try:
        with broker(args.brokers, scratch) as brokers:
            if args.broker_warmup:  # not measured: a fresh broker's JVM is still compiling its hot paths
                measure("reference", brokers, scratch, args.broker_warmup, [64], 0)
            for round_, program in alternating(programs, args.rounds):
                loads = measure(program, brokers, scratch, args.seconds, concurrencies, args.warmup, seed)
                for load in loads:
                    results.append(load)
                    print(f"round {round_ + 1}: {load}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if null_clickhouse is not None:
            assert seed is not None
            sent = requests.get(f"{seed.clickhouse_url}/null-clickhouse/stats", timeout=10).json()
            print(
                f"the seed's consumer sent {sent['requests']:,} requests, {sent['bytes']:,} bytes to ClickHouse"
            )
            null_clickhouse.terminate()
            null_clickhouse.wait(30)
    report(results, programs)


def report(results: list[Load], programs: list[str]) -> None:
    keys = sorted({(r.route, r.concurrency) for r in results}, key=lambda k: (k[0] != "/events", k[1]))

    def median(program: str, key: tuple[str, int], attr: str) -> float:
        values = [
            getattr(r, attr) for r in results if r.program == program and (r.route, r.concurrency) == key
        ]
        return statistics.median(values) if values else 0.0

    print(
        "\n| route | concurrency | program | events/s | p50 ms | p99 ms | failed | peak RSS MiB | CPU cores "
        "| / reference | / seed |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for key in keys:
        reference = median("reference", key, "events_per_second")
        seed = median(SEED, key, "events_per_second")
        for program in programs:
            rate = median(program, key, "events_per_second")
            if not rate:
                continue  # the seed's batch row
            ratio = f"{rate / reference:.2f}" if reference else "-"
            to_seed = f"{rate / seed:.2f}" if seed else "-"
            print(f"| {key[0]} | {key[1]} | {program} | {rate:,.0f} | {median(program, key, 'p50_ms'):.1f} | "
                  f"{median(program, key, 'p99_ms'):.1f} | {median(program, key, 'failures'):.0f} | "
                  f"{median(program, key, 'rss_mib'):.0f} | {median(program, key, 'cpu_cores'):.2f} | {ratio} | "
                  f"{to_seed} |")  # fmt: skip
    print("\nEach process, per run: peak RSS after the run, CPU cores during it.")
    for r in results:
        print(f"- {r.program}, {r.route} at {r.concurrency}: {r.processes}")


if __name__ == "__main__":
    main()
