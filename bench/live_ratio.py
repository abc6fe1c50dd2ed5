"""Sink throughput with and without the live tables, on the real broker and a real worker.

    scripts/kafka/kafka.sh up          # a broker on 127.0.0.1:9092
    .venv/bin/python -m bench.live_ratio --events 100000 --rounds 3

Each round writes the events once to a fresh topic, then starts a worker with LIVE_TABLES_ENABLED=false and one
with true (each on a fresh consumer group and data folder), and times each from ready until every event is
processed. Rounds alternate the order; the ratio with/without is reported per round and as the median.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ota_stream.models import parse_event
from tests.support.processes import free_port

PARTITIONS = 4
TYPES = ["update_started", "update_downloaded", "update_installed", "update_failed"]


def payloads(count: int) -> list[tuple[bytes, bytes]]:
    """Events over the last 30 minutes (all inside live retention), 20 apps, 5,000 devices."""
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        event = parse_event(
            {
                "tenant_id": "bench",
                "org_id": "o",
                "app_id": f"app{i % 20}",
                "device_id": f"device-{i % 5000}",
                "event_type": TYPES[i % 4],
                "timestamp": (now - timedelta(seconds=i % 1800)).isoformat(),
                "event_id": f"e{i}",
                "target_version": "2.0.0",
                **({"error_code": "E_NET"} if i % 4 == 3 else {}),
            }
        )
        out.append((event.partition_key, event.to_json()))
    return out


async def produce(brokers: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=brokers, linger_ms=20, acks="all")
    await producer.start()
    for key, value in items:
        await producer.send(topic, value, key=key)
    await producer.stop()


def run_worker(brokers: str, topic: str, live: bool, events: int) -> float:
    """Seconds from the worker answering /health until it has processed `events`."""
    data = Path(tempfile.mkdtemp(prefix="ota-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BROKERS": brokers,
        "KAFKA_TOPIC": topic,
        "KAFKA_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        "DATA_DIR": str(data),
        "SERVER_PORT": str(port),
        "LIVE_TABLES_ENABLED": str(live).lower(),
        "LOG_LEVEL": "WARNING",
        "KAFKA_DEV_BROKER": "true",  # the local single broker
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "ota-stream"), "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/health"
    try:
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            try:
                requests.get(url, timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.1)
        started = time.perf_counter()
        while requests.get(url, timeout=10).json()["metrics"]["events_processed"] < events:
            time.sleep(0.1)
        return time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = payloads(args.events)
    ratios = []
    for round_ in range(args.rounds):
        topic = f"bench-live-{uuid.uuid4().hex[:8]}"
        asyncio.run(produce(args.brokers, topic, items))
        order = [False, True] if round_ % 2 == 0 else [True, False]
        seconds = {live: run_worker(args.brokers, topic, live, args.events) for live in order}
        ratio = seconds[False] / seconds[True]  # throughput with live tables / throughput without
        ratios.append(ratio)
        print(
            f"round {round_ + 1}: without live {args.events / seconds[False]:.0f} ev/s, "
            f"with live {args.events / seconds[True]:.0f} ev/s, ratio {ratio:.2f}",
            flush=True,
        )
    print(f"median ratio (with/without live tables): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
