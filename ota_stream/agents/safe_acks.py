"""Two guards on Faust's offsets, so that a rebalance never makes the sink skip events.

Faust's stream loop skips a message when its consumer generation is stale or flow control is paused (a
rebalance is under way) and then acks it, "so that the lag does not grow". With two workers and a slow agent body
(live tables), a few percent of the events sent while the second worker joined were committed without reaching
ClickHouse (1 run in 3). Two causes, two guards:

1. An ack of such a message releases it (so that shutdown and `wait_empty` do not wait for it) without recording
   its offset, so no commit moves past it.
2. After a rebalance Faust seeks each partition to its committed offset; a partition with no commit yet kept its
   fetch position, past the messages read and skipped in the old generation. Those partitions of the events topic
   now go back to their beginning (what `auto_offset_reset=earliest` means for a new group), inside the consumer
   thread and through aiokafka's offset-reset request. (A first version seeked from outside the thread and raced
   aiokafka's fetcher: KeyError in `fetched_records` under kill -9 restarts.)

A message read again this way is dropped by the writer if it was in fact written (at-least-once from Kafka,
exactly-once into ClickHouse). Patches faust-streaming 0.15.3's `Consumer.ack` and
`AIOKafkaConsumerThread.seek_to_committed`: re-check them when upgrading Faust.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, Message
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

_original_ack = Consumer.ack


def _guarded_ack(self: Any, message: Message) -> bool:
    app = self.app
    if message.generation_id == app.consumer_generation_id and app.flow_control.is_active():
        return _original_ack(self, message)
    with ack_lock:
        message.acked = True
        self._unacked_messages.discard(message)
        notify(self._waiting_for_ack)
    return False


_source_topics: set[str] = set()
_seek_delay_seconds = [0.0]  # tests only (KAFKA_SEEK_DELAY_SECONDS): a seek as slow as on a loaded machine


async def _seek_to_committed_or_beginning(self: Any) -> Mapping[TP, int]:
    """Faust's seek after a rebalance, plus: a partition of the events topic with no commit goes to its start.

    It runs inside the consumer's thread and uses aiokafka's offset-reset request, the fetcher's own path.
    KAFKA_SEEK_DELAY_SECONDS (tests) holds the seek that ends a recovery (the flow is running then), the way slow
    OffsetFetch round trips do on a loaded machine; not the Fetcher's own seek while the flow is stopped.
    """
    consumer = self._ensure_consumer()

    async def seek() -> Mapping[TP, int]:
        if _seek_delay_seconds[0] and self.consumer.flow_active:
            await asyncio.sleep(_seek_delay_seconds[0])
        committed: Mapping[TP, int] = await consumer.seek_to_committed()
        fresh = [tp for tp, offset in committed.items() if not offset and tp.topic in _source_topics]
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        return committed

    return cast(Mapping[TP, int], await self.call_thread(seek))


def install(source_topic: str, seek_delay_seconds: float = 0.0) -> None:
    """Idempotent: patch Faust's consumer once per process."""
    _source_topics.add(source_topic)
    _seek_delay_seconds[0] = seek_delay_seconds
    if Consumer.ack is not _guarded_ack:
        Consumer.ack = _guarded_ack  # type: ignore[method-assign]
        AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed_or_beginning  # type: ignore[method-assign]
