"""A long run on a three-node Kafka cluster: steady load, a node restarted every few minutes, figures every minute.

    .venv/bin/python -m bench.soak --minutes 30 --rate 1000 --restart-every 300

Starts a three-node KRaft cluster (scripts/kafka/kafka.sh, KAFKA_NODES=3) and one `ota-stream worker` on the
production defaults (replication 3, min.insync.replicas 2; keys off, as the other load benchmarks), then sends
`--rate` events/s for `--minutes`: half as single `POST /events`, half as `POST /events/batch` of 50, each event
with its own `event_id`. A request answered 503 (fewer than two replicas in sync, or Kafka slow) or not answered is
sent again after its `Retry-After` with the same ids, as the client SDK does. Every `--restart-every` seconds one
node (in turn) is stopped and started again `--down-seconds` later.

Each minute it prints events accepted (202) and refused (503) so far, events stored (the sink's count), the
consumer lag, and the resident memory of the worker's whole process tree. At the end it waits for the lag to reach
0 and checks that the stored events are exactly the accepted ones (the sink's count, its duplicates dropped, and
ClickHouse's own count through /analytics/apps).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import requests

from bench.harness import ROOT, free_port, process_group_rss_mib

BIN = Path(sys.executable).parent
KAFKA = ROOT / "scripts" / "kafka" / "kafka.sh"
TENANT = "soak"
APPS = [f"app{n}" for n in range(8)]
BATCH = 50


@dataclass
class Tally:
    accepted: set[str] = field(default_factory=set)
    refused: int = 0  # 503 answers (each resent later)
    failed: int = 0  # no answer, or another status (resent later)
    other_statuses: dict[int, int] = field(default_factory=dict)


def event(now: datetime) -> dict[str, Any]:
    app = random.choice(APPS)
    kind = random.random()
    body: dict[str, Any] = {
        "tenant_id": TENANT, "org_id": "o", "app_id": app, "device_id": f"{app}-{random.randrange(20_000)}",
        "timestamp": now.isoformat().replace("+00:00", "Z"), "event_id": str(uuid.uuid4()),
        "release_info": {"current_version": "1.0.0", "target_version": "1.1.0"},
    }  # fmt: skip
    if kind < 0.7:
        body["event_type"] = "update_installed"
    elif kind < 0.8:
        body["event_type"] = "update_failed"
        body["error_info"] = {"error_code": "E_NET", "failure_stage": "download"}
    else:
        body["event_type"] = "app_launched"
    return body


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.port = free_port(pairs=6)
        self.env = {
            **os.environ,
            "KAFKA_NODES": "3",
            "KAFKA_DIR": str(directory),
            "KAFKA_PORT": str(self.port),
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + n}" for n in range(3))

    def run(self, *args: str) -> None:
        subprocess.run([str(KAFKA), *args], env=self.env, check=True)

    async def restart(self, node: int, down_seconds: float) -> None:
        await asyncio.to_thread(self.run, "stop-node", str(node))
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(self.run, "start-node", str(node))


async def send(session: aiohttp.ClientSession, url: str, events: list[dict[str, Any]], tally: Tally) -> None:
    """Send until accepted; a 503 or a lost answer is resent with the same ids after its Retry-After."""
    single = len(events) == 1
    while True:
        try:
            async with session.post(
                f"{url}/events" if single else f"{url}/events/batch", json=events[0] if single else events
            ) as response:
                status = response.status
                body = await response.json(content_type=None)
                retry_after = float(response.headers.get("Retry-After", "1"))
        except (aiohttp.ClientError, TimeoutError):
            tally.failed += 1
            await asyncio.sleep(1)
            continue
        if status == 202:
            assert single or not body["rejected"], body["rejected"][:3]
            tally.accepted.update(e["event_id"] for e in events)
            return
        if status == 503:
            tally.refused += 1
        else:
            tally.other_statuses[status] = tally.other_statuses.get(status, 0) + 1
        await asyncio.sleep(retry_after)


async def load(url: str, rate: int, seconds: float, tally: Tally, in_flight: int = 256) -> None:
    """`rate` events/s for `seconds`, every 100 ms a tick: half single events, half batches of BATCH. At most
    `in_flight` requests wait for an answer: when the worker answers slower than the rate, the load waits for it (a
    client that queued requests without bound would collapse under its own backlog, as a first version of this
    benchmark did), and the shortfall shows in the accepted column."""
    tick, started, sent = 0.1, time.monotonic(), 0
    slots = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(group: list[dict[str, Any]]) -> None:
            try:
                await send(session, url, group, tally)
            finally:
                slots.release()

        while (elapsed := time.monotonic() - started) < seconds:
            due = int(rate * (elapsed + tick)) - sent
            now = datetime.now(UTC)
            events = [event(now) for _ in range(max(0, due))]
            half = len(events) // 2
            groups = [[e] for e in events[:half]]
            groups += [events[i : i + BATCH] for i in range(half, len(events), BATCH)]
            for group in groups:
                await slots.acquire()
                task = asyncio.create_task(one(group))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent += len(events)
            await asyncio.sleep(max(0.0, started + elapsed + tick - time.monotonic()))
        if tasks:
            await asyncio.gather(*tasks)


async def health(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The worker's /health (the session's timeout applies)."""
    async with session.get(f"{url}/health") as response:
        body: dict[str, Any] = await response.json(content_type=None)
        return body


async def stored_in_clickhouse(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/analytics/apps", params={"tenant_id": TENANT, "days": "1"}) as response:
        body = await response.json(content_type=None)
        return sum(app["events"] for app in body["data"])


async def report_every_minute(
    url: str, pid: int, tally: Tally, started: float, rows: list[list[str]]
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while True:
            await asyncio.sleep(60 - (time.monotonic() - started) % 60)
            try:
                body = await health(session, url)
                stored, lag = body["metrics"]["events_processed"], body["services"]["kafka"]["consumer_lag"]
                status = body["status"]
            except (aiohttp.ClientError, TimeoutError, KeyError) as exc:
                stored, lag, status = "?", "?", f"no answer ({exc.__class__.__name__})"
            row = [
                f"{(time.monotonic() - started) / 60:.0f}", f"{len(tally.accepted):,}", f"{tally.refused:,}",
                f"{stored:,}" if isinstance(stored, int) else stored, str(lag),
                f"{process_group_rss_mib(pid):.0f}", status,
            ]  # fmt: skip
            rows.append(row)
            print("| " + " | ".join(row) + " |", flush=True)


async def soak(
    args: argparse.Namespace, cluster: Cluster, url: str, pid: int
) -> tuple[Tally, list[list[str]]]:
    tally, rows, started = Tally(), list[list[str]](), time.monotonic()
    print("| minute | accepted | 503 answers | stored | lag | worker RSS MiB | /health |", flush=True)
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |", flush=True)
    reporter = asyncio.create_task(report_every_minute(url, pid, tally, started, rows))

    async def restarts() -> None:
        node = 1
        while True:
            await asyncio.sleep(args.restart_every)
            print(f"(minute {(time.monotonic() - started) / 60:.1f}: node {node} stopped for "
                  f"{args.down_seconds:g} s)", flush=True)  # fmt: skip
            await cluster.restart(node, args.down_seconds)
            node = node % 3 + 1

    restarter = asyncio.create_task(restarts())
    try:
        await load(url, args.rate, args.minutes * 60, tally)
    finally:
        restarter.cancel()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            body = await health(session, url)
            if body["services"]["kafka"]["consumer_lag"] == 0 and body["metrics"]["events_processed"] >= len(
                tally.accepted
            ):
                break
            await asyncio.sleep(2)
        reporter.cancel()
        body = await health(session, url)
        in_clickhouse = await stored_in_clickhouse(session, url)
    metrics = body["metrics"]
    print(
        f"\nafter the drain: accepted {len(tally.accepted):,} distinct events; the sink stored "
        f"{metrics['events_processed']:,} and dropped {metrics['duplicates_dropped']:,} duplicates; ClickHouse "
        f"holds {in_clickhouse:,}; lag {body['services']['kafka']['consumer_lag']}; /health {body['status']}; "
        f"requests refused with 503: {tally.refused:,}, unanswered: {tally.failed:,}, other: {tally.other_statuses}"
    )
    exact = metrics["events_processed"] == in_clickhouse == len(tally.accepted)
    print("every accepted event stored exactly once" if exact else "MISMATCH: see the counts above")
    return tally, rows


def start_worker(cluster: Cluster, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ, "KAFKA_BROKERS": cluster.bootstrap, "DATA_DIR": str(work / "worker"),
        "SERVER_PORT": str(port), "AUTH_REQUIRED": "false", "RATE_LIMIT_INGEST_EVENTS_PER_SECOND": "0",
    }  # fmt: skip
    env.pop("KAFKA_DEV_BROKER", None)
    log = (work / "worker.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "ota-stream"), "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).json()["status"] == "healthy":
                return process, url
        except (requests.RequestException, ValueError, KeyError):
            pass  # starting
        time.sleep(1)
    raise RuntimeError(f"the worker did not become healthy; see {work / 'worker.log'}")


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below (the cluster, the worker)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--restart-every", type=float, default=300, help="seconds between node restarts")
    parser.add_argument("--down-seconds", type=float, default=20, help="how long a restarted node stays down")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs) afterwards")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ota-soak-"))
    cluster = Cluster(work / "kafka")
    print(
        f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"command: {' '.join(sys.argv)}; scratch {work}\n")
    cluster.run("up")
    process: subprocess.Popen[bytes] | None = None
    try:
        process, url = start_worker(cluster, work)
        asyncio.run(soak(args, cluster, url, process.pid))
    finally:
        if process is not None:
            os.killpg(process.pid, 15)
            process.wait(timeout=60)
        cluster.run("down")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
