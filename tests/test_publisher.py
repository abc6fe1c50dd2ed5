"""The ingest producer on a real broker: concurrent callers share envelopes and flights, each caller returns only
once its events are acknowledged, and every line lands once, in its key's partition, in the order it was given."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from aiokafka import AIOKafkaConsumer

from ota_stream.config import KafkaSettings
from ota_stream.kafka import envelope
from ota_stream.kafka.producer import EventPublisher
from tests.support.processes import Kafka

CALLERS = 400
KEYS = 37


async def read_back(bootstrap: str, topic: str, lines: int) -> list[tuple[int, bytes, bool]]:
    """(partition, value, is an envelope) of every message, until `lines` lines have been read."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    messages: list[tuple[int, bytes, bool]] = []
    try:
        while sum(envelope.line_count(value) for _, value, _ in messages) < lines:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                messages += [(r.partition, r.value, envelope.is_envelope(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return messages


async def test_concurrent_callers_share_flights_and_every_line_lands_once_in_order(kafka: Kafka) -> None:
    topic = f"publisher-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(brokers=kafka.bootstrap, topic=topic, dev_broker=True)
    publisher = EventPublisher(settings)
    await publisher.start()
    try:
        while not publisher.ready:  # it connects in the background
            await asyncio.sleep(0.05)
        # The partition count read before the callers ask: otherwise the first caller waits for the metadata while
        # the later ones, finding it cached, queue their lines first (concurrent requests have no order of their
        # own; this test is about callers that asked in a known order).
        await publisher.partitions()
        sent = [(f"key-{n % KEYS}".encode(), f"line-{n}".encode()) for n in range(CALLERS)]
        await asyncio.wait_for(asyncio.gather(*(publisher.publish([item]) for item in sent)), timeout=60)
        partitions = await publisher.partitions()
    finally:
        await publisher.stop()

    messages = await asyncio.wait_for(read_back(kafka.bootstrap, topic, CALLERS), timeout=60)
    assert all(is_envelope for _, _, is_envelope in messages)
    # The callers all asked before the first flight took off: at most one flight then one more, each one envelope
    # per partition (the first caller's may leave alone, before the others have asked).
    assert len(messages) <= 2 * partitions
    landed: dict[int, list[bytes]] = defaultdict(list)
    for partition, value, _ in messages:
        landed[partition] += value.split(b"\n")
    assert sorted(line for lines in landed.values() for line in lines) == sorted(line for _, line in sent)
    for key, line in sent:
        assert line in landed[envelope.partition_for(key, partitions)]
    for partition, lines in landed.items():
        numbers = [int(line.split(b"-")[1]) for line in lines]
        assert numbers == sorted(numbers), f"partition {partition} out of order"
