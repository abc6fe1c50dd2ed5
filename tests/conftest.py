"""Session fixtures: one real Kafka broker per test session, and worker processes per test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.migrations import migrate
from tests.support.loaded import write
from tests.support.processes import Kafka, Worker, free_port, remove, unique_name

# chDB opens one data folder per process: the test session shares one, and each test gets a database of its own.
CHDB_DIR = Path(tempfile.mkdtemp(prefix="ota-chdb-"))


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


@pytest.fixture
def own_broker() -> Iterator[Kafka]:
    """A broker of this test's own, not started: the test stops and starts it (fault tests)."""
    broker = Kafka(Path(tempfile.mkdtemp(prefix="ota-kafka-own-")), free_port(pairs=2))
    yield broker
    broker.down()
    remove(broker.directory)


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(kafka: Kafka, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Build workers on a topic and consumer group of this test's own; all are stopped at the end."""
    topic, group = unique_name("ota-events"), unique_name("ota-group")
    workers: list[Worker] = []

    def build(name: str = "w", command: str = "worker", **env: str) -> Worker:
        worker = Worker(tmp_path / name, kafka, topic, group, env=dict(env), command=command)
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


def open_database(migrations: Path | None = None) -> ClickHouse:
    client = ClickHouse(ClickHouseConfig(f"chdb://{CHDB_DIR}", f"test_{uuid.uuid4().hex[:12]}"))
    client.connect()
    migrate(client, retention_days=365, directory=migrations)
    return client


def drop_database(client: ClickHouse) -> None:
    client.command_sync(f"DROP DATABASE IF EXISTS `{client.config.database}`")
    client.close()


def loaded_database(events: list[dict[str, Any]]) -> Iterator[tuple[ClickHouse, list[dict[str, Any]]]]:
    """A module fixture's body: a migrated database holding `events` written by the real writer, dropped after."""
    client = open_database()
    write(client, events)
    yield client, events
    drop_database(client)


@pytest.fixture
def ch() -> Iterator[ClickHouse]:
    """A migrated database in the session's embedded ClickHouse."""
    client = open_database()
    yield client
    drop_database(client)


@pytest.fixture(scope="session", autouse=True)
def _remove_chdb_dir() -> Iterator[None]:
    yield
    remove(CHDB_DIR)


# The session broker, the fault and security tests' own, and the three-node cluster of tests/test_cluster.py.
BROKERS = {"kafka", "own_broker", "broker", "cluster"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `e2e` every test that needs a broker (directly or through a worker fixture): `make unit` skips them."""
    for item in items:
        if BROKERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
