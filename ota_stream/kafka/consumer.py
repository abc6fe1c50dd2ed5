"""Faust's aiokafka consumer with four guards on its offsets, batched fetches and joined envelopes
(kafka/coalesce.py), installed as the app's transport.

Faust's stream loop skips a message when its consumer generation is stale or flow control is paused (a
rebalance is under way) and then acks it, "so that the lag does not grow". With two workers and a slow agent body,
a few percent of the events sent while the second worker joined were committed without reaching ClickHouse.
Two causes, two guards:

1. `SafeConsumer.ack` of such a message releases it (so that shutdown and `wait_empty` do not wait for it)
   without recording its offset, so no commit moves past it.
2. After a rebalance Faust seeks each partition to its committed offset; a partition with no commit yet kept its
   fetch position, past the messages read and skipped in the old generation. `SafeConsumerThread` sends such a
   partition of a source topic (any topic but a table's changelog) back to its beginning, which is what
   `auto_offset_reset=earliest` means for a new group, inside the consumer thread and through aiokafka's own
   offset-reset request (a seek from outside the thread raced aiokafka's fetcher).

A message read again this way is dropped by the writer if it was in fact written (at-least-once from Kafka,
exactly-once into ClickHouse).

Two more mend Faust's offset bookkeeping (issue 26; tests/test_offsets.py drives Faust's own drain loop through
any interleaving of fetches, joined runs, acks, commits and rebalances):

3. Acking a joined message (kafka/coalesce.py) records every envelope it joins as done, instead of relying on the
   gap Faust's drain loop records before it, which it skips when the offset read before is 0: a partition that
   took a lone event, then a burst, never committed again (`SafeConsumer.ack`, `_add_gap`).
4. A fetch reads the partitions that were active when it started, and everything it returns is delivered
   (`SafeConsumer._wait_next_records`): pausing partitions emptied Faust's set during a fetch, which aiokafka
   reads as every partition, and the records it then returned were dropped after their positions had moved on
   (the restart-path stall).

The subclasses override faust-streaming 0.15's `Consumer.ack`, `Consumer._add_gap`, `Consumer._wait_next_records`
(a copy), `Consumer._to_message`, `AIOKafkaConsumerThread.seek_to_committed` and `_fetch_records`; pyproject pins
that minor version and tests/test_upstream_pins.py fails when an upstream source they rest on changes. Also here:
the read-only views of the consumer that /health, the lag gauge and the stall watchdog need, which read Faust's
private offset maps.

Batched fetches: Faust's consumer asks the broker for data as soon as any is there, so a worker that keeps up with
live traffic fetches a few envelopes at a time, and the fetches cost it and the broker more CPU than the events in
them. The worker's consumer waits for FETCH_MIN_BYTES or FETCH_MAX_WAIT_MS, whichever comes first: on a 2-core
machine taking single events, the all-in-one worker's stream processing and the broker together used about 30%
less CPU per event at 64 KiB or 100 ms, and once envelopes were joined (kafka/coalesce.py), when what is left is a
cost per fetch, 256 KiB or 250 ms took the worker from 28% to 25% of a core and answered about 5% more single
events at 16 concurrent requests than 64 KiB or 100 ms (bench/RESULTS.md, issue 19).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import faust
from aiokafka import TopicPartition
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage, ack_lock
from mode.utils.futures import notify

from ota_stream.kafka.coalesce import join_envelopes, mark_parts, parts_of

FETCH_MIN_BYTES = 256 * 1024  # about 1,000 lz4-compressed events
FETCH_MAX_WAIT_MS = 250  # what the batching may add to a lone event's way into the live windows and the sink
# A partition without a leader held the end-offset request for 27-44 s on a three-node cluster with a node down,
# and with it /health's lag and the watchdog's timer; past this the lag reads as unknown.
END_OFFSETS_TIMEOUT_SECONDS = 5.0


class SafeConsumerThread(aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        """Faust's consumer, fetching in batches (see above). Faust passes no fetch_min_bytes and a fixed wait;
        aiokafka's consumer reads both only when it starts."""
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> RecordMap:
        """Faust's fetch, with each run of envelopes of a partition joined into one message (kafka/coalesce.py)."""
        records = await super()._fetch_records(consumer, active_partitions, timeout, max_records)
        return {tp: join_envelopes(batch) for tp, batch in records.items()}

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Faust's seek after a rebalance, plus: a source partition with no commit goes to its beginning."""
        consumer = self._ensure_consumer()
        app = self.consumer.app
        changelogs = app.tables.changelog_topics

        async def seek() -> Mapping[TP, int]:
            committed: Mapping[TP, int] = await consumer.seek_to_committed()
            fresh = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
            if fresh:
                await consumer.seek_to_beginning(*fresh)
            return committed

        return cast(Mapping[TP, int], await self.call_thread(seek))

    def verify_event_path(self, now: float, tp: TP) -> None:
        """Faust's livelock check, except for a partition without a fetch position: one that `seek_to_committed`
        sent to its beginning waits for aiokafka's offset reset, and Faust's check reads `position`, which aiokafka
        asserts on meanwhile (a worker crashed so, its events topic created moments before). It is checked again
        on the next round, once it has a position."""
        subscription = self._ensure_consumer()._fetcher._subscriptions.subscription
        aiotp = TopicPartition(tp.topic, tp.partition)
        state = (
            subscription.assignment.state_value(aiotp) if subscription and subscription.assignment else None
        )
        if state is not None and not state.has_valid_position:
            return None
        return super().verify_event_path(now, tp)


class SafeConsumer(aiokafka.Consumer):
    def _new_consumer_thread(self) -> SafeConsumerThread:
        return SafeConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _to_message(self, tp: TP, record: Any) -> ConsumerMessage:
        return cast(ConsumerMessage, mark_parts(super()._to_message(tp, record), record))

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:
        """Faust's, fetching for a copy of the active partitions instead of the set itself.

        Faust hands its own set to the fetch and later keeps the records of the partitions still in it; pausing a
        partition empties that set in place while the fetch waits. aiokafka reads an empty set as every partition,
        so a fetch in flight when recovery paused the last active changelog partition drained the stream
        partitions, just sought to their committed offsets, and Faust's filter then dropped those records with
        their positions already advanced: the worker stalled with its backlog unread (the restart-path stall, issue
        26). With a copy, a fetch reads the partitions it was asked for and every record it returns is delivered."""
        if not self.flow_active:
            await self.wait(self.can_resume_flow)  # type: ignore[arg-type]  # as in Faust
        try:
            self.not_waiting_next_records.set()
            if self.app.client_only:
                return await self._getmany(active_partitions=None, timeout=timeout), None
            active = set(self._get_active_partitions())
            if not active:
                await self.sleep(1)
                return {}, active
            return await self._getmany(active_partitions=active, timeout=timeout), active
        finally:
            self.not_waiting_next_records.set()

    def _cover(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Record offsets `offset_from`..`offset_to` as done for the next commit, the way Faust records a gap: an
        offset recorded twice (by the drain loop and here) is one interval, never a duplicate ack."""
        committed = self._committed_offset[tp]
        offset_from = max(offset_from, committed or 0)
        if offset_from <= offset_to:
            gaps = self._gap[tp]
            gaps.addi(offset_from, offset_to + 1)
            gaps.merge_overlaps()

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust's record of offsets skipped in a partition, without the offset of the message read after them.

        Faust 0.15 is called with that message's offset as `offset_to` and keeps it in the gap, so once the
        message is acked its offset is counted twice, and `_new_offset` stops at the duplicate: with joined
        envelopes (each one a gap) every commit moved past one joined message only, and the committed offsets
        fell behind by thousands of messages under load."""
        await super()._add_gap(tp, offset_from, offset_to - 1)

    def ack(self, message: Message) -> bool:
        """Faust's ack for a message of the current generation while the flow runs; else release it only.

        Acking a joined message acks every envelope it joins: their offsets are recorded as covered (in Faust's
        gap record, which the next commit reads) rather than left to Faust's drain loop, which records a gap only
        when the offset read before it is not 0 (`if gap > 1 and r_offset`). A partition whose envelope at offset 0
        was read and committed alone, then a run joined, never committed again (issue 26)."""
        app = self.app
        if message.generation_id == app.consumer_generation_id and app.flow_control.is_active():
            with ack_lock:
                if not super().ack(message):
                    return False
                parts = parts_of(message)
                if parts:
                    self._cover(message.tp, parts[0][0], message.offset - 1)
                return True
        with ack_lock:
            message.acked = True
            self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)
        return False


class Transport(aiokafka.Transport):
    Consumer = SafeConsumer


def install(app: faust.App) -> None:
    """Give `app` this transport for its consumer, before anything creates Faust's default one."""
    app.transport = Transport(app.conf.broker_consumer, app)


def assigned_partitions(app: faust.App, topic: str) -> list[int]:
    """The partitions of `topic` this worker consumes now (empty before the first assignment)."""
    try:
        return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
    except Exception:
        return []


async def partition_positions(app: faust.App, topic: str) -> dict[int, tuple[int | None, int]] | None:
    """partition -> (committed offset, None before the first commit; end offset) for each partition of `topic`
    assigned to this worker; None when the broker does not answer. End offsets are asked of the broker (the
    consumer's cached high-water marks can be stale right after an assignment)."""
    consumer: Any = app.consumer
    try:
        assigned = [tp for tp in consumer.assignment() if tp.topic == topic]
        ends: Mapping[TP, int] = (
            await asyncio.wait_for(consumer.highwaters(*assigned), END_OFFSETS_TIMEOUT_SECONDS)
            if assigned
            else {}
        )
    except Exception:  # the broker away, or a partition without a leader: unknown, for now
        return None
    if any(tp not in ends for tp in assigned):
        return None
    return {tp.partition: (consumer._committed_offset.get(tp), ends[tp]) for tp in assigned}


def lag_of(committed: int | None, end: int) -> int:
    """Messages of a partition not yet committed: Faust's committed offset is the next to read, as Kafka's."""
    return max(0, end - (committed or 0))


async def consumer_lag(app: faust.App, topic: str) -> int | None:
    """Messages of `topic` on this worker's partitions that are not yet committed; None before assignment or when
    the broker does not answer."""
    positions = await partition_positions(app, topic)
    if not positions:
        return None
    return sum(lag_of(*position) for position in positions.values())


def consumer_state(app: faust.App, topic: str) -> dict[str, Any]:
    """What Faust's consumer says about `topic`: the places a stall has hidden (generation, flow control, paused
    partitions, read and committed offsets, messages handed to streams and not yet acked). A snapshot for a log
    line, never a decision."""
    consumer: Any = app.consumer

    def partitions(tps: Any) -> list[int]:
        return sorted(tp.partition for tp in (tps or ()) if tp.topic == topic)

    def offsets(mapping: Mapping[Any, int | None]) -> dict[int, int | None]:
        return {tp.partition: offset for tp, offset in sorted(mapping.items()) if tp.topic == topic}

    return {
        "generation": app.consumer_generation_id,
        "flow_control_active": app.flow_control.is_active(),
        "consumer_flow_active": consumer.flow_active,
        "assigned": partitions(consumer.assignment()),
        "active": partitions(consumer._active_partitions),
        "paused": partitions(consumer._paused_partitions),
        "read_offsets": offsets(consumer._read_offset),
        "committed_offsets": offsets(consumer._committed_offset),
        "unacked_messages": len(consumer._unacked_messages),
    }
