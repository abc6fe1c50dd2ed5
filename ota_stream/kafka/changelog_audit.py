"""Checking a table partition that this process takes over against its changelog, read by a client of our own.

Faust's recovery reads a changelog partition through the worker's consumer, whose fetches, flow control and queue
clears are shared with the stream (kafka/recovery.py mends three ways records were lost there). A rolling restart
test still found a takeover whose copy, read from the changelog's start, held older values of some keys than the
changelog's latest (issue 26). So once recovery ends, each changelog partition this process did not hold active
before is read again, from its start to its end offset, by a plain aiokafka consumer of its own (no group, nothing
committed), and every key whose local value differs from the changelog's latest is written again (a tombstone
deletes). The compacted changelog is short (tables/live.py rolls its segments), so this is one more pass per
takeover; what it mends is logged and counted, so that a loss the recovery still has does not stay silent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP, CollectionT

from ota_stream import metrics

log = logging.getLogger(__name__)
READ_TIMEOUT_SECONDS = 60.0
OFFSET_KEY = (
    b"__faust\x00offset__"  # where Faust's RocksDB store keeps a partition's persisted changelog offset
)


async def latest_values(options: Mapping[str, Any], tps: set[TP]) -> dict[TP, dict[bytes, bytes | None]]:
    """The latest value of every key in each changelog partition of `tps` (None: deleted), up to its end offset
    now, read by one consumer."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **options)
    await consumer.start()
    partitions = {TopicPartition(tp.topic, tp.partition): tp for tp in tps}
    latest: dict[TP, dict[bytes, bytes | None]] = {tp: {} for tp in tps}
    try:
        ends = await consumer.end_offsets(list(partitions))
        filled = [p for p in partitions if ends[p] > 0]
        if not filled:
            return latest
        consumer.assign(filled)
        await consumer.seek_to_beginning(*filled)
        # Done with a partition when a record at or past its end offset's last has been seen (the last record of a
        # log is never compacted away), not when the consumer's position says so.
        seen = dict.fromkeys(partitions, -1)
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while left := [p for p in filled if seen[p] < ends[p] - 1]:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"changelog audit: {left} not read to their end in {READ_TIMEOUT_SECONDS} s"
                )
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for partition, records in batches.items():
                for record in records:
                    seen[partition] = max(seen[partition], record.offset)
                    if record.offset < ends[partition] and record.key is not None:
                        latest[partitions[partition]][record.key] = record.value
    finally:
        await consumer.stop()
    return latest


def mend(table: CollectionT, partition: int, latest: Mapping[bytes, bytes | None]) -> int:
    """Write to the local copy of `partition` every key whose value differs from `latest`; returns how many."""
    db = table.data._db_for_partition(partition)  # type: ignore[attr-defined]  # Faust's RocksDB store
    mended = 0
    for key, value in latest.items():
        if key == OFFSET_KEY or db.get(key) == value:
            continue
        if value is None:
            del db[key]
        else:
            db[key] = value
        mended += 1
    return mended


async def audit(options: Mapping[str, Any], table: CollectionT, tps: set[TP]) -> int:
    """Check and mend each of `tps` of `table`; returns the keys mended."""
    total = 0
    for tp, latest in sorted((await latest_values(options, tps)).items()):
        mended = mend(table, tp.partition, latest)
        if mended:
            log.warning(
                "changelog audit: %d keys of %s partition %d were older locally than in the changelog, rewritten",
                mended,
                tp.topic,
                tp.partition,
            )
            metrics.CHANGELOG_KEYS_MENDED.labels(table=table.name).inc(mended)
        total += mended
    return total
