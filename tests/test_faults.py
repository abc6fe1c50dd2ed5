"""Faults on the real pipeline: kill -9 under load and a ClickHouse outage. Each test ends with exact numbers
through /analytics, computed independently from the events that were acknowledged."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from aiokafka import AIOKafkaProducer

from ota_stream.models import parse_event
from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same
from tests.support.processes import Worker, wait_for
from tests.support.scenario import Event, Scenario, post_batches
from tests.test_dedup import ENDPOINTS, every_endpoint


def check_every_endpoint(
    worker: Worker, events: list[Event], tenants: tuple[str, ...], now: datetime
) -> None:
    for tenant in tenants:
        window = Window(tenant, now - timedelta(days=365), now + timedelta(hours=3))
        for (name, extra, compute), got in zip(
            ENDPOINTS, every_endpoint(worker, window).values(), strict=True
        ):
            assert_same(got, compute(events, window, *extra.values()), f"{tenant} {name}")


def converges(
    worker: Worker, events: list[Event], tenants: tuple[str, ...], now: datetime, timeout: float
) -> None:
    """Every endpoint reaches the exact numbers (nothing lost) and stays there (nothing doubled later)."""

    def exact() -> bool:
        try:
            check_every_endpoint(worker, events, tenants, now)
        except AssertionError:
            return False
        return True

    wait_for(exact, timeout, "every endpoint to equal the independent computation", interval=2)
    time.sleep(3)
    check_every_endpoint(worker, events, tenants, now)


def drained(worker: Worker) -> bool:
    return worker.health()["services"]["kafka"]["consumer_lag"] == 0


async def produce(bootstrap: str, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        futures = []
        for data in events:
            event = parse_event(data)
            futures.append(await producer.send(topic, event.to_json(), key=event.partition_key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_kill9_at_five_random_moments_under_50k_events(make_worker: WorkerFactory) -> None:
    worker = make_worker(BATCH_SIZE="1000")
    worker.start()
    now = datetime.now(UTC)
    events = Scenario(now=now, devices_per_app=1000, seed=31).build()
    assert len(events) >= 50_000
    # Client-assigned ids everywhere, so that the expected numbers can be computed from the events alone.
    for i, event in enumerate(events):
        event.setdefault("event_id", f"generated-{i}")
    asyncio.run(produce(worker.kafka.bootstrap, worker.topic, events))
    rng = random.Random(7)
    for _ in range(5):
        time.sleep(rng.uniform(0.5, 3.0))
        worker.kill9()
        worker.start()
    converges(worker, events, ("acme", "globex"), now, timeout=300)


def test_clickhouse_outage_degrades_then_catches_up(make_worker: WorkerFactory, tmp_path: Path) -> None:
    failpoint = tmp_path / "clickhouse-is-down"
    worker = make_worker(CLICKHOUSE_FAILPOINT_FILE=str(failpoint))
    worker.start()
    now = datetime.now(UTC)
    events = Scenario(now=now, devices_per_app=30, seed=41).build()
    half = len(events) // 2
    post_batches(worker.url, events[:half])
    converges(worker, events[:half], ("acme", "globex"), now, timeout=60)

    failpoint.touch()
    outage_started = time.monotonic()
    post_batches(worker.url, events[half:])  # ingest does not need ClickHouse
    health = wait_for(lambda: (h := worker.health())["status"] == "degraded" and h, 30, "a degraded /health")
    assert health["services"]["clickhouse"]["status"] == "unhealthy"
    wait_for(lambda: (worker.health()["services"]["kafka"]["consumer_lag"] or 0) > 0, 30, "lag to grow")
    time.sleep(max(0.0, 25 - (time.monotonic() - outage_started)))
    metrics = requests.get(f"{worker.url}/metrics", timeout=30).text
    retries = next(
        line for line in metrics.splitlines() if line.startswith("ota_pipeline_insert_retries_total")
    )
    assert float(retries.split()[-1]) > 0
    failpoint.unlink()

    wait_for(
        lambda: drained(worker) and worker.health()["status"] == "healthy", 120, "the worker to catch up"
    )
    check_every_endpoint(worker, events, ("acme", "globex"), now)
