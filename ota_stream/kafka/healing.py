"""The two remedies for a consumer stall: re-seek the stalled partitions, or rejoin the consumer group.

agents/healer.py decides when to use them; this module is how, and it is the only code that reaches into Faust's
per-partition bookkeeping and aiokafka's group coordinator for it (pinned by tests/test_upstream_pins.py).

Re-seek. Faust remembers, per partition, the offset it last read (`_read_offset`), what was acked
(`_acked`, `_acked_index`) and which offsets it skipped (`_gap`); it drops a fetched message below the read
offset as already seen. A partition whose messages were read and then lost on their way to the sink (the stall of
issue 18: a queue cleared after the read) keeps its read offset ahead of its committed one, so a seek of aiokafka
alone would only bring the same messages back to be dropped. So the partition is paused in Faust (nothing of it is
handed on while its position changes), sought to its committed offset inside the consumer's thread (aiokafka is not
thread-safe; the seek also discards records fetched from the old position), its bookkeeping is set as after a
rebalance's seek (`Consumer.on_partitions_revoked`, then `Consumer.perform_seek`), and it is resumed. What comes
again and was in fact written is dropped by the writer's duplicate check (exactly once into ClickHouse). One race
is left: a message of the partition that Faust's drain loop is handing on at that very moment (fetched before the
pause) sets the read offset again after the reset, and what is read again below it is dropped. The partition then
still does not commit, and the healer rejoins the group a period later.

Rejoin. aiokafka's coordinator is asked to rejoin the group (`GroupCoordinator.request_rejoin`, what it does itself
when the topic's metadata changes): the group rebalances, Faust revokes and reassigns every partition, resets all
of its state for them, recovers the tables and seeks every partition to its committed offset. It costs the whole
group one rebalance; the worker process, its tables and its ingest stay up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.types import TP


async def reseek(app: faust.App, topic: str, partitions: Iterable[int]) -> dict[int, int | None]:
    """Seek `partitions` of `topic` (those still assigned) to their committed offsets and read them again from there;
    returns partition -> committed offset (None: no commit yet, read from the beginning)."""
    consumer: Any = app.consumer
    wanted = set(partitions)
    tps = {tp for tp in consumer.assignment() if tp.topic == topic and tp.partition in wanted}
    if not tps:
        return {}
    thread = consumer._thread
    consumer.pause_partitions(tps)
    try:
        committed: dict[TP, int | None] = await thread.call_thread(_seek_to_committed, thread, tps)
        _forget_reads(consumer, committed)
    finally:
        consumer.resume_partitions(tps)
    return {tp.partition: offset for tp, offset in sorted(committed.items())}


async def _seek_to_committed(thread: Any, tps: set[TP]) -> dict[TP, int | None]:
    """In the consumer's thread: each partition to its committed offset, or its beginning without one."""
    consumer = thread._ensure_consumer()
    found: dict[TP, int | None] = {}
    for tp in tps:
        aiotp = TopicPartition(tp.topic, tp.partition)
        offset = await consumer.committed(aiotp)
        if offset is None or offset < 0:
            await consumer.seek_to_beginning(aiotp)
            found[tp] = None
        else:
            consumer.seek(aiotp, offset)
            found[tp] = offset
    return found


def _forget_reads(consumer: Any, committed: Mapping[TP, int | None]) -> None:
    """Faust's bookkeeping of each partition as a rebalance leaves it: nothing acked or skipped, read up to the
    committed offset (Faust's `perform_seek` sets the read offset and the committed one so, 0 meaning none)."""
    for tp, offset in committed.items():
        consumer._gap.pop(tp, None)
        consumer._acked.pop(tp, None)
        consumer._acked_index.pop(tp, None)
        consumer._read_offset[tp] = offset
        consumer._committed_offset[tp] = offset or None


async def rejoin(app: faust.App) -> None:
    """Ask the group coordinator, in the consumer's thread, to rejoin: the whole group rebalances."""
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]

    async def request() -> None:
        thread._ensure_consumer()._coordinator.request_rejoin()

    await thread.call_thread(request)


class ConsumerRemedies:
    """The two remedies on this worker's partitions of `topic`, as agents/healer.py calls them."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app = app
        self.topic = topic

    async def reseek(self, partitions: Iterable[int]) -> dict[int, int | None]:
        return await reseek(self.app, self.topic, partitions)

    async def rejoin(self) -> None:
        await rejoin(self.app)
