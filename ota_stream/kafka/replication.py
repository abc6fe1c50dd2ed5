"""How the worker's topics are replicated and kept, and the start-up check that refuses settings that lose events.

Ingest answers 202 once Kafka has acknowledged an event with acks=all. That promise holds only if the event is on
more than one broker when it is acknowledged: a replication factor of at least 2 and `min.insync.replicas` of at
least 2 (with 1, the leader acknowledges alone once its followers fall behind, and an acknowledged event dies with
the leader's disk). The defaults, 3 and 2, survive the loss of one broker without losing an event or refusing a
write. A single development broker can satisfy neither; KAFKA_DEV_BROKER=true says so, and then both default to 1.

`ota-stream worker` runs `prepare` after Kafka answers and before Faust starts: it counts the brokers (aiokafka's
describe_cluster) and stops the worker with a message naming the settings when they would lose acknowledged events,
or could not be applied at all (more replicas than brokers); then it creates the events and dead-letter topics.
Creating them here, not from Faust, matters: Faust's consumer subscribes while its app starts, and a broker that
auto-creates topics would create the events topic with its own defaults before Faust declared it. The same
settings go to every other topic the worker creates: Faust's changelog topics (its `topic_replication_factor` and
the live table's topic configs, app.py) and the keys topic (compacted.py). A topic that exists already is left as it
is: change it with Kafka's tools (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import BrokerNotAvailableError, TopicAlreadyExistsError

from ota_stream.config import KafkaSettings
from ota_stream.errors import OtaStreamError
from ota_stream.kafka.broker import KafkaNotReachable
from ota_stream.kafka.options import client_options
from ota_stream.kafka.transient import DECLARE_BACKOFF, is_transient
from ota_stream.retry import retry_forever

HOUR_MS = 3600 * 1000


class UnsafeReplication(OtaStreamError):
    """The topic settings would lose acknowledged events on this cluster, or cannot be applied to it."""


def durability_configs(settings: KafkaSettings) -> dict[str, str]:
    """Topic configs of every topic the worker creates."""
    return {"min.insync.replicas": str(settings.in_sync_replicas)}


def retained_configs(settings: KafkaSettings, hours: float) -> dict[str, str]:
    """Topic configs of a topic whose messages are kept `hours` (the events and dead-letter topics)."""
    return {**durability_configs(settings), "retention.ms": str(int(hours * HOUR_MS))}


def problems(settings: KafkaSettings, brokers: int) -> list[str]:
    """What is wrong with the replication settings on a cluster of `brokers` brokers; empty when they are safe."""
    replicas, insync = settings.replicas, settings.in_sync_replicas
    found = []
    if replicas > brokers:
        found.append(
            f"KAFKA_REPLICATION_FACTOR={replicas} but the Kafka cluster has {brokers} broker(s): topics cannot be "
            "created with more replicas than brokers"
        )
    if insync > replicas:
        found.append(
            f"KAFKA_MIN_INSYNC_REPLICAS={insync} is above KAFKA_REPLICATION_FACTOR={replicas}: no write with "
            "acks=all could ever be acknowledged"
        )
    if settings.dev_broker:
        return found
    if replicas < 2:
        found.append(
            f"KAFKA_REPLICATION_FACTOR={replicas}: an acknowledged event would be on one broker only, and lost "
            "with its disk (use 3)"
        )
    if insync < 2:
        found.append(
            f"KAFKA_MIN_INSYNC_REPLICAS={insync}: acks=all would be acknowledged by the leader alone once its "
            "followers fall behind, and lost if it fails (use 2)"
        )
    return found


def topics(settings: KafkaSettings) -> list[NewTopic]:
    """The events and dead-letter topics, as the worker creates them."""
    return [
        NewTopic(
            name,
            settings.topic_partitions,
            settings.replicas,
            topic_configs=retained_configs(settings, hours),
        )
        for name, hours in (
            (settings.topic, settings.events_retention_hours),
            (settings.dead_letter_topic, settings.dlq_retention_hours),
        )
    ]


async def broker_count(settings: KafkaSettings) -> int:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        await admin.close()
    if not cluster["brokers"]:  # a cluster still starting; waited out by `prepare`
        raise BrokerNotAvailableError("the Kafka cluster lists no brokers yet")
    return len(cluster["brokers"])


async def prepare(settings: KafkaSettings) -> int:
    """Verify the settings against the cluster, then create the topics that do not exist; returns the broker count.
    Raises UnsafeReplication with every problem found, before anything is created. Waits out a broker that is
    away (as topics.ResilientTopic does), within KAFKA_STARTUP_TIMEOUT_SECONDS when it is not 0."""
    preparing = retry_forever(
        lambda: _prepare(settings), "preparing Kafka topics", DECLARE_BACKOFF, retry_if=is_transient
    )
    timeout = settings.startup_timeout_seconds
    try:
        brokers, _ = await (asyncio.wait_for(preparing, timeout) if timeout else preparing)
    except TimeoutError as exc:
        raise KafkaNotReachable(f"Kafka did not answer the topic set-up within {timeout:g}s") from exc
    return brokers


async def _prepare(settings: KafkaSettings) -> int:
    brokers = await broker_count(settings)
    _refuse(settings, problems(settings, brokers))
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        for topic in topics(settings):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
    finally:
        await admin.close()
    return brokers


def _refuse(settings: KafkaSettings, found: list[str]) -> None:
    if found:
        hint = (
            ""
            if settings.dev_broker
            else "; for a single development broker set KAFKA_DEV_BROKER=true (replication 1)"
        )
        raise UnsafeReplication(
            "refusing to start, the Kafka topic settings are unsafe: " + "; ".join(found) + hint
        )
