"""Topic replication and retention (kafka/replication.py): the rules, and the worker's start-up check on the
session's real single-node broker, which is exactly a cluster that cannot keep an acknowledged event on two brokers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ota_stream.config import KafkaSettings
from ota_stream.kafka.replication import HOUR_MS, broker_count, problems
from tests.conftest import WorkerFactory
from tests.support.processes import Kafka, Worker, wait_for


def settings(**values: Any) -> KafkaSettings:
    return KafkaSettings(brokers="127.0.0.1:1", **values)


def test_production_safe_defaults_and_the_development_broker() -> None:
    assert (settings().replicas, settings().in_sync_replicas) == (3, 2)
    dev = settings(dev_broker=True)
    assert (dev.replicas, dev.in_sync_replicas) == (1, 1)
    mixed = settings(dev_broker=True, replication_factor=2)
    assert (mixed.replicas, mixed.in_sync_replicas) == (2, 1)
    assert settings().events_retention_hours == 168 and settings().dlq_retention_hours == 720


@pytest.mark.parametrize(
    ("values", "brokers", "expected"),
    [
        ({}, 3, []),
        ({}, 5, []),
        (
            {"replication_factor": 1},
            3,
            ["KAFKA_MIN_INSYNC_REPLICAS=2 is above", "KAFKA_REPLICATION_FACTOR=1: an acknowledged event"],
        ),
        ({"min_insync_replicas": 1}, 3, ["KAFKA_MIN_INSYNC_REPLICAS=1: acks=all"]),
        ({}, 1, ["KAFKA_REPLICATION_FACTOR=3 but the Kafka cluster has 1 broker(s)"]),
        (
            {"replication_factor": 2, "min_insync_replicas": 3},
            3,
            ["is above KAFKA_REPLICATION_FACTOR"],
        ),
        # a development broker may keep one copy, but not ask for more than it has
        ({"dev_broker": True}, 1, []),
        (
            {"dev_broker": True, "replication_factor": 3},
            1,
            ["but the Kafka cluster has 1 broker"],
        ),
    ],
)
def test_problems(values: dict[str, Any], brokers: int, expected: list[str]) -> None:
    found = problems(settings(**values), brokers)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert start in problem


def refused(worker: Worker, **env: str) -> str:
    """Start the worker, which must exit with status 1; returns its log."""
    worker.start(env, wait=False)
    assert worker.process is not None
    wait_for(
        lambda: worker.process is not None and worker.process.poll() is not None, 120, "the worker to exit"
    )
    code = worker.process.returncode
    log = worker.log_path.read_text() if worker.log_path else ""
    worker.process = None
    assert code == 1, log
    return log


def test_broker_count_on_the_real_broker(kafka: Kafka) -> None:
    assert asyncio.run(broker_count(KafkaSettings(brokers=kafka.bootstrap))) == 1


def test_worker_refuses_three_replicas_on_one_broker(make_worker: WorkerFactory) -> None:
    log = refused(make_worker(), KAFKA_DEV_BROKER="true", KAFKA_REPLICATION_FACTOR="3")
    assert "refusing to start" in log
    assert "KAFKA_REPLICATION_FACTOR=3 but the Kafka cluster has 1 broker(s)" in log


def test_worker_refuses_one_replica_unless_told_it_is_a_development_broker(
    make_worker: WorkerFactory,
) -> None:
    worker = make_worker()
    log = refused(
        worker, KAFKA_DEV_BROKER="false", KAFKA_REPLICATION_FACTOR="1", KAFKA_MIN_INSYNC_REPLICAS="1"
    )
    assert "KAFKA_REPLICATION_FACTOR=1: an acknowledged event would be on one broker only" in log
    assert "KAFKA_MIN_INSYNC_REPLICAS=1" in log and "set KAFKA_DEV_BROKER=true" in log
    # Nothing was created before the refusal.
    assert worker.topic not in asyncio.run(topic_configs(worker.kafka, []))


async def topic_configs(kafka: Kafka, topics: list[str]) -> dict[str, dict[str, Any]]:
    """Every topic's name -> {config: (value, is_default)} for `topics` (only the names when empty)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
        found: dict[str, dict[str, Any]] = {name: {} for name in names}
        if topics:
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
            for response in await admin.describe_configs(resources):
                for resource in response.resources:
                    name, entries = resource[3], resource[4]
                    found[name] = {entry[0]: (entry[1], entry[3]) for entry in entries}
        return found
    finally:
        await admin.close()


def test_a_development_broker_worker_creates_its_topics_with_the_configured_settings(
    make_worker: WorkerFactory,
) -> None:
    worker = make_worker(KAFKA_EVENTS_RETENTION_HOURS="5", KAFKA_DLQ_RETENTION_HOURS="7")
    worker.start()  # RF 1 with KAFKA_DEV_BROKER=true (tests/support/processes.py): it starts
    keys = f"{worker.group}-keys"

    def created() -> list[str]:
        names = asyncio.run(topic_configs(worker.kafka, []))
        changelogs = [n for n in names if n.startswith(worker.group) and n.endswith("-changelog")]
        return changelogs if changelogs and keys in names else []

    changelogs = wait_for(created, 60, "the live table's changelog and the keys topic")
    configs = asyncio.run(
        topic_configs(worker.kafka, [worker.topic, f"{worker.topic}-dlq", keys, *changelogs])
    )
    assert configs[worker.topic]["retention.ms"][0] == str(5 * HOUR_MS)
    assert configs[f"{worker.topic}-dlq"]["retention.ms"][0] == str(7 * HOUR_MS)
    for name in (worker.topic, f"{worker.topic}-dlq", keys, *changelogs):
        value, source = configs[name]["min.insync.replicas"]
        assert value == "1", name
        assert source == 1, f"{name}: min.insync.replicas is set on the topic (DYNAMIC_TOPIC_CONFIG)"
