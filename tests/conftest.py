"""Session fixtures: one real Kafka broker per test session, and worker processes per test."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.processes import Kafka, Worker, free_port, remove, unique_name


@pytest.fixture(scope="session")
def kafka() -> Iterator[Kafka]:
    directory = Path(tempfile.mkdtemp(prefix="ota-kafka-"))
    broker = Kafka(directory, free_port(pairs=2))
    broker.up()
    try:
        yield broker
    finally:
        broker.down()
        remove(directory)


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(kafka: Kafka, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Build workers on a topic and consumer group of this test's own; all are stopped at the end."""
    topic, group = unique_name("ota-events"), unique_name("ota-group")
    workers: list[Worker] = []

    def build(name: str = "w", **env: str) -> Worker:
        worker = Worker(tmp_path / name, kafka, topic, group, env=dict(env))
        workers.append(worker)
        return worker

    yield build
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(make_worker: WorkerFactory) -> Worker:
    started = make_worker()
    started.start()
    return started
