"""kafka/changelog_audit.py against a real broker: the latest value per key of each partition, and the mending of a
local copy that holds older values (the takeover loss a rolling restart found, issue 26)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.types import TP

from ota_stream.kafka.changelog_audit import OFFSET_KEY, audit, latest_values
from tests.support.processes import Kafka, unique_name


async def _write(bootstrap: str, topic: str, records: list[tuple[int, bytes, bytes | None]]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, key, value in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def test_latest_values_and_mending_follow_the_changelog(kafka: Kafka) -> None:
    topic = unique_name("audit-changelog")
    records = [
        (0, b"a", b"1"),
        (0, b"b", b"1"),
        (0, b"a", b"2"),  # a's latest is 2
        (0, b"b", None),  # b deleted
        (1, b"c", b"7"),
        (1, b"c", b"8"),
    ]  # partition 2 stays empty
    asyncio.run(_write(kafka.bootstrap, topic, records))
    tps = {TP(topic, 0), TP(topic, 1), TP(topic, 2)}
    options = {"bootstrap_servers": kafka.bootstrap}

    latest = asyncio.run(latest_values(options, tps))
    expected: dict[TP, dict[bytes, bytes | None]] = {TP(topic, p): {} for p in range(3)}
    for partition, key, value in records:  # the same, computed plainly: the last record of each key wins
        expected[TP(topic, partition)][key] = value
    assert latest == expected

    # A local copy short of the latest updates: a at 1, b still there, c at 8 already; d only local.
    local = {0: {b"a": b"1", b"b": b"1", OFFSET_KEY: b"3"}, 1: {b"c": b"8", b"d": b"x"}, 2: {}}
    table = SimpleNamespace(name="t", data=SimpleNamespace(_db_for_partition=local.__getitem__))
    mended = asyncio.run(audit(options, table, tps))  # type: ignore[arg-type]
    assert mended == 2
    assert local == {0: {b"a": b"2", OFFSET_KEY: b"3"}, 1: {b"c": b"8", b"d": b"x"}, 2: {}}
    assert asyncio.run(audit(options, table, tps)) == 0  # type: ignore[arg-type]
