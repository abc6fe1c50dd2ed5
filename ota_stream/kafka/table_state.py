"""Writing a Faust table's state outside a stream event: the partition to write at, and the changelog record.

Faust's RocksDB store picks a partition's database from the stream event being processed (`current_event()`),
and a table remembers which changelog offsets its local copy holds through a callback on each changelog send.
The live windows (tables/live.py) and the alert state (alerts/state.py) write many keys of several partitions per
batch, or from a timer where there is no event at all, so they name the partition themselves and send their
changelog records themselves. Faust has no public way to do either; the two functions here are the only code
that reaches into those internals (`faust.streams._current_event`, `Collection._on_changelog_sent`), pinned by
tests/test_upstream_pins.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from faust.streams import _current_event
from faust.types import EventT, TableT


class _Message:
    __slots__ = ("partition",)

    def __init__(self, partition: int) -> None:
        self.partition = partition


class _AtPartition:
    """Just enough of a Faust event for the RocksDB store to pick the database of one partition: the store reads
    `event.message.partition` and nothing else (`Store._get`, `_set`, `_contains`)."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, partition: int) -> None:
        self.message = _Message(partition)


@contextmanager
def at_partition(partition: int) -> Iterator[None]:
    """Table reads and writes inside this block go to `partition`'s RocksDB database."""
    event = _AtPartition(partition)
    token = _current_event.set(weakref.ref(cast(EventT, event)))
    try:
        yield
    finally:
        _current_event.reset(token)


async def send_change(table: TableT[Any, Any], key: Any, value: Any, partition: int) -> Any:
    """Send one change of `table` (None: a tombstone) to its changelog `partition`; returns the delivery future.

    The table's own callback records the record's offset in RocksDB when the broker acknowledges it, so that a
    restart knows how far its local copy goes. `force=True`: never attached to the current event, so the send
    does not wait for that event's ack.
    """
    return await table.changelog_topic.send(
        key=key,
        value=value,
        partition=partition,
        value_serializer=None if value is not None else "raw",
        callback=table._on_changelog_sent,  # type: ignore[attr-defined]
        force=True,
    )
