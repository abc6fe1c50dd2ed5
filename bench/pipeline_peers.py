"""Drain rate side by side: our worker against a minimal aiokafka sink and a Quix Streams sink, same job.

    .venv/bin/python -m bench.pipeline_peers --events 200000 --rounds 3

N realistic events (bench/events.py) are produced once into a fresh 4-partition topic the way ingest writes
them: 64 concurrent clients send SDK-sized batches (1 to 20 events of one app) through the ingest's producer,
which packs what arrives together into envelopes. (`--single` writes one message per event instead, as another
producer would.) Then each program drains the topic with a fresh consumer group into a freshly migrated chDB,
rounds alternating the order. Each is timed from the end of its first batch to its last event written, so start-up
is left out: events/s, CPU seconds per 1,000 events (all threads, chDB's included) and peak RSS.

It starts its own broker (scripts/kafka/kafka.sh) unless --brokers is given. The Quix Streams peer runs in a venv
of its own (.cache/bench-quix), because quixstreams pins pydantic below the project's version.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.events import lifecycles
from bench.harness import ROOT, alternating, broker, cpu_seconds, free_port, peak_rss_mib
from ota_stream import wire
from ota_stream.config import KafkaSettings
from ota_stream.kafka.producer import EventPublisher
from ota_stream.models import TimeWindow, parse_event

BIN = Path(sys.executable).parent
QUIX_VENV = ROOT / ".cache" / "bench-quix"
QUIX_PACKAGES = [
    "quixstreams==3.28.1",
    "clickhouse-connect>=1.12",
    "chdb>=4.4",
    "pyarrow",
    "orjson",
    "uvloop",
]


@dataclass
class Run:
    program: str
    events_per_second: float
    cpu_per_1000: float
    peak_rss_mib: float


async def produce(brokers: str, topic: str, count: int, single: bool) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    await admin.close()
    window = TimeWindow(365).bounds()
    events = [parse_event(e, window) for batch in lifecycles(count) for e in batch]
    started = time.monotonic()
    if single:
        producer = AIOKafkaProducer(
            bootstrap_servers=brokers, acks="all", enable_idempotence=True, linger_ms=5
        )
        await producer.start()
        futures = [await producer.send(topic, e.to_json(), key=e.partition_key) for e in events]
        await asyncio.gather(*futures)
        await producer.stop()
        return {"messages": len(events), "seconds": time.monotonic() - started}
    publisher = EventPublisher(KafkaSettings(brokers=brokers, topic=topic))
    await publisher.start()
    while not publisher.ready:
        await asyncio.sleep(0.05)
    rng = random.Random(3)
    by_app: dict[str, list[Any]] = {}
    for event in events:
        by_app.setdefault(event.app_key, []).append(event)
    requests_: list[list[Any]] = []
    for app_events in by_app.values():
        while app_events:
            size = rng.randint(1, 20)
            requests_.append(app_events[:size])
            del app_events[:size]
    rng.shuffle(requests_)
    queue: asyncio.Queue[list[Any]] = asyncio.Queue()
    for request in requests_:
        queue.put_nowait(request)

    async def client() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            await publisher.publish([(a.key, a.line) for a in map(wire.accept_model, batch)])

    await asyncio.gather(*(client() for _ in range(64)))
    await publisher.stop()
    messages = await count_messages(brokers, topic)
    return {"messages": messages, "seconds": time.monotonic() - started, "requests": len(requests_)}


async def count_messages(brokers: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=brokers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(4)])
    finally:
        await consumer.stop()
    return sum(ends.values())


def migrate(data_dir: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    subprocess.run([str(BIN / "ota-stream"), "migrate"], env=env, check=True, capture_output=True)


def events_processed(port: int) -> int:
    """From /metrics, which costs the worker less than /health (no ClickHouse ping, no broker round trip)."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return 0
    for line in text.splitlines():
        if line.startswith("ota_pipeline_events_processed_total "):
            return int(float(line.split()[1]))
    return 0


def run_worker(brokers: str, topic: str, count: int, work: Path) -> Run:
    port = free_port()
    env = {
        **os.environ, "KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic, "KAFKA_CONSUMER_GROUP": f"g-{uuid.uuid4().hex}",
        "DATA_DIR": str(work), "SERVER_PORT": str(port), "LOG_LEVEL": "WARNING", "KAFKA_DEV_BROKER": "true",
    }  # fmt: skip
    log = (work / "worker.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "ota-stream"), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        first: tuple[float, float, int] | None = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            processed = events_processed(port)
            now, cpu = time.monotonic(), cpu_seconds(process.pid)
            if processed and first is None:
                first = (now, cpu, processed)
            if processed >= count and first is not None:
                rate = (count - first[2]) / (now - first[0])
                cpu_rate = (cpu - first[1]) / (count - first[2]) * 1000
                return Run("ota-stream worker", rate, cpu_rate, peak_rss_mib(process.pid))
            time.sleep(0.25)
        raise TimeoutError(f"the worker did not drain {count} events; see {work / 'worker.log'}")
    finally:
        process.terminate()
        process.wait(60)


def run_peer(name: str, command: list[str], env: dict[str, str], count: int) -> Run:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    peak = 0.0
    while process.poll() is None:
        try:
            peak = max(peak, peak_rss_mib(process.pid))
        except FileNotFoundError:
            break
        time.sleep(0.1)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{err.decode()[-3000:]}")
    result = orjson.loads(out.decode().strip().splitlines()[-1])
    drained = result["events"] - result["at_first"]
    rate = drained / (result["done"] - result["first"])
    cpu = (result["cpu_done"] - result["cpu_first"]) / drained * 1000
    return Run(name, rate, cpu, peak)


def quix_python() -> Path:
    python = QUIX_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *QUIX_PACKAGES], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--brokers", help="an existing broker; by default a fresh one is started")
    parser.add_argument(
        "--single", action="store_true", help="one Kafka message per event (another producer)"
    )
    parser.add_argument("--programs", default="worker,aiokafka,aiokafka+lookup,quix")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ota-pipeline-bench-"))
    try:
        with broker(args.brokers, scratch) as brokers:
            run_all(args, brokers, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_all(args: argparse.Namespace, brokers: str, scratch: Path) -> None:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    produced = asyncio.run(produce(brokers, topic, args.events, args.single))
    print(f"produced {args.events} events in {produced['messages']} Kafka messages ({produced})", flush=True)
    programs = args.programs.split(",")
    # The peers batch by messages: as many as hold about 5,000 events, as the worker batches by events.
    batch_messages = max(1, round(5000 * produced["messages"] / args.events))
    quix = quix_python() if "quix" in programs else None

    def peer(module: str, *extra: str) -> Callable[[Path], Run]:
        def run(work: Path) -> Run:
            migrate(work)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            python = str(quix) if module.endswith("quix_peer") else sys.executable
            command = [python, "-m", module, brokers, topic, f"g-{uuid.uuid4().hex}",
                       str(work / "clickhouse"), str(args.events), str(batch_messages), *extra]  # fmt: skip
            return run_peer(module.rsplit(".", 1)[1] + "".join(extra), command, env, args.events)

        return run

    runners: dict[str, Callable[[Path], Run]] = {
        "worker": lambda work: run_worker(brokers, topic, args.events, work),
        "aiokafka": peer("bench.peers.aiokafka_peer"),
        "aiokafka+lookup": peer("bench.peers.aiokafka_peer", "--lookup"),
        "quix": peer("bench.peers.quix_peer"),
    }
    results: dict[str, list[Run]] = {name: [] for name in programs}
    for round_, name in alternating(programs, args.rounds):
        work = scratch / f"{name}-{round_}"
        work.mkdir()
        result = runners[name](work)
        results[name].append(result)
        print(f"round {round_ + 1} {name}: {result}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
    report(results, args, produced)


def report(results: dict[str, list[Run]], args: argparse.Namespace, produced: dict[str, Any]) -> None:
    median = {name: statistics.median(r.events_per_second for r in runs) for name, runs in results.items()}
    print(f"\n{args.events} events in {produced['messages']} messages; median of {args.rounds} rounds")
    print("| program | events/s | CPU s per 1,000 events | peak RSS MiB | worker / program |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        cpu = statistics.median(r.cpu_per_1000 for r in runs)
        rss = max(r.peak_rss_mib for r in runs)
        ratio = median.get("worker", 0) / median[name] if median[name] else 0
        print(f"| {name} | {median[name]:,.0f} | {cpu:.3f} | {rss:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
