"""The events topic's wire format: an envelope is one Kafka message carrying the row lines of many events.

Faust's cost is paid per Kafka message (fetch, dispatch, sensors, acks: about 0.28 ms each on our machines), so
ingest packs the events of one partition that arrive together into one message: NDJSON of row lines
(storage/events_table.py), with the header `ota-envelope: rows-ndjson-v1`. A message without that header is a
single event in the public JSON form (docs/events.md), as another producer may write it; the sink reads both.

An event's position is (partition, offset, index of its line in the message): what the sink records with each
row, what live windows gate replays on, and what a dead letter names.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from aiokafka.partitioner import murmur2

HEADER = "ota-envelope"
FORMAT = b"rows-ndjson-v1"
HEADERS = [(HEADER, FORMAT)]
# Kafka's default message.max.bytes is 1 MiB: leave room for the record batch's own framing.
MAX_BYTES = 900 * 1024
MAX_EVENTS = 1000


def pack(lines: Sequence[bytes]) -> bytes:
    return b"\n".join(lines)


def is_envelope(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    return bool(headers) and any(key == HEADER and value == FORMAT for key, value in headers or ())


def line_count(value: bytes) -> int:
    return value.count(b"\n") + 1


@lru_cache(maxsize=65536)
def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client and aiokafka): Faust's `table_route` finds a live
    window's owner by hashing the same key the same way, so an app's events and its windows share a partition."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
