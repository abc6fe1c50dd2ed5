"""Faults on the real pipeline: kill -9 under load, a broker restart mid-ingest and a ClickHouse outage. Each test
ends with exact numbers through /analytics, computed independently from the events that were acknowledged."""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from aiokafka import AIOKafkaProducer

from ota_stream.models import parse_event
from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same
from tests.support.processes import Kafka, Worker, free_port, remove, unique_name, wait_for
from tests.support.scenario import Event, Scenario, post_batches
from tests.test_dedup import ENDPOINTS, every_endpoint
from tests.test_operations import scrape


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


@dataclass
class RetryingClient:
    """Posts batches in a thread like a well-behaved app: a 503 is retried after its Retry-After."""

    url: str
    events: list[Event]
    batch_size: int = 50
    # (when, status, Retry-After, events in the batch)
    answers: list[tuple[float, int, str | None, int]] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for i in range(0, len(self.events), self.batch_size):
            batch = self.events[i : i + self.batch_size]
            while True:
                try:
                    response = requests.post(f"{self.url}/events/batch", json=batch, timeout=30)
                except requests.RequestException:
                    time.sleep(1)
                    continue
                retry_after = response.headers.get("Retry-After")
                self.answers.append((time.monotonic(), response.status_code, retry_after, len(batch)))
                if response.status_code == 202:
                    assert response.json()["rejected"] == []
                    break
                time.sleep(float(retry_after or 1))

    def join(self, timeout: float) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the client did not get every batch accepted"


@pytest.fixture
def own_broker() -> Iterator[Kafka]:
    """A broker of this test's own, not started: the test stops and starts it."""
    broker = Kafka(Path(tempfile.mkdtemp(prefix="ota-kafka-own-")), free_port(pairs=2))
    yield broker
    broker.down()
    remove(broker.directory)


# After the first answer the worker is still starting (Faust declares the table's changelog, and a broker that is
# shutting down answers "cannot replicate": a CI failure); after twenty, ingest is in full flow.
@pytest.mark.parametrize("answers_before_stop", [1, 20], ids=["while-the-worker-starts", "mid-ingest"])
def test_broker_restart_mid_ingest_loses_nothing(
    own_broker: Kafka, tmp_path: Path, answers_before_stop: int
) -> None:
    """The broker stops under a stream of POSTs and comes back 15 s later. Meanwhile ingest answers 503 with
    Retry-After; the same worker process then takes every accepted event to ClickHouse exactly once."""
    broker = own_broker
    broker.up()
    worker = Worker(tmp_path / "w", broker, unique_name("ota-events"), unique_name("ota-group"))
    try:
        worker.start()
        now = datetime.now(UTC)
        events = Scenario(now=now, devices_per_app=100, seed=53).build()
        for i, event in enumerate(events):
            event.setdefault("event_id", f"restart-{i}")  # a retried batch carries the same ids
        client = RetryingClient(worker.url, events)
        client.start()
        wait_for(lambda: len(client.answers) >= answers_before_stop, 60, "ingest to be under way")
        broker.down()
        down_from = time.monotonic()
        time.sleep(15)
        down_until = time.monotonic()
        broker.up()
        client.join(timeout=300)

        # From a second after the broker stopped: a 202 acknowledged just before may still have been on its way.
        while_down = [
            (status, retry_after)
            for when, status, retry_after, _ in client.answers
            if down_from + 1 < when < down_until
        ]
        assert while_down and all(status == 503 for status, _ in while_down), while_down[:5]
        assert all(retry_after for _, retry_after in while_down)
        assert client.answers[-1][1] == 202
        converges(worker, events, ("acme", "globex"), now, timeout=180)
        assert worker.process is not None and worker.process.poll() is None, "the worker exited"
        assert worker.starts == 1
        # One process all along, so its count of rows written to ClickHouse is the table's: each event once.
        assert worker.health()["metrics"]["events_processed"] == len(events)
        metrics = scrape(worker)
        assert metrics["ota_ingest_accepted_total"][()] == len(events)
        refused = sum(size for _, status, _, size in client.answers if status == 503)
        assert metrics["ota_ingest_rejected_total"][(("reason", "kafka_unavailable"),)] == refused
        assert metrics["ota_ingest_producer_replaced_total"][()] >= 1
        assert worker.log_path is not None
        log = worker.log_path.read_text()
        # aiokafka repeats its connection errors thousands of times a second; the log keeps one per 10 s.
        assert 0 < log.count("Unable connect to node") < 50
    finally:
        worker.stop()


def test_a_worker_started_before_the_broker_waits_for_it(own_broker: Kafka, tmp_path: Path) -> None:
    worker = Worker(tmp_path / "w", own_broker, unique_name("ota-events"), unique_name("ota-group"))
    try:
        worker.start(wait=False)
        wait_for(
            lambda: "waiting for Kafka" in (worker.log_tail(200) or ""), 30, "the worker to wait for Kafka"
        )
        time.sleep(3)
        assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
        own_broker.up()
        worker.wait_ready()
        now = datetime.now(UTC)
        events = Scenario(now=now, tenants=("acme",), devices_per_app=5, seed=59).build()
        post_batches(worker.url, events)
        converges(worker, events, ("acme",), now, timeout=60)
    finally:
        worker.stop()


def test_a_worker_gives_up_on_an_absent_broker_after_its_timeout(tmp_path: Path) -> None:
    nobody = Kafka(tmp_path / "no-kafka", free_port(pairs=2))  # never started
    worker = Worker(tmp_path / "w", nobody, unique_name("ota-events"), unique_name("ota-group"))
    worker.start({"KAFKA_STARTUP_TIMEOUT_SECONDS": "2"}, wait=False)
    assert worker.process is not None
    assert worker.process.wait(timeout=60) == 1
    assert f"no Kafka broker answered at {nobody.bootstrap} within 2s" in worker.log_tail()
    worker.process = None


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
