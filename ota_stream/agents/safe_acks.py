"""Two guards on Faust's offsets, so that a rebalance never makes the sink skip events.

Faust's stream loop skips a message when its consumer generation is stale or flow control is paused (a
rebalance is under way) and then acks it, "so that the lag does not grow". Acked offsets are committed, so a
message skipped that way is never read again: it is lost. Faust relies on the seek to committed offsets after the
rebalance, but acks that land after that seek move the commit past messages that no one processed. We saw it
with two workers and a slow agent body (live tables): a few percent of the events sent during the second
worker's join were committed without reaching ClickHouse.

1. An ack of such a message releases it (so that shutdown and `wait_empty` do not wait for it) without recording
   its offset, so no commit moves past it.
2. After a rebalance Faust seeks each partition to its committed offset; a partition with no commit yet keeps its
   fetch position, past the messages read and skipped in the old generation. Those partitions of the events topic
   go back to their beginning instead (what `auto_offset_reset=earliest` means for a new group).

A message read again this way is dropped by the writer if it was in fact written (at-least-once from Kafka,
exactly-once into ClickHouse).
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer
from faust.types import Message
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


_original_perform_seek = Consumer.perform_seek
_source_topics: set[str] = set()


async def _perform_seek_from_the_start_when_uncommitted(self: Any) -> None:
    await _original_perform_seek(self)
    for tp in self.assignment():
        if tp.topic in _source_topics and self._committed_offset.get(tp) is None:
            await self.seek(tp, 0)


def install(source_topic: str) -> None:
    """Idempotent: patch Faust's consumer once per process."""
    _source_topics.add(source_topic)
    if Consumer.ack is not _guarded_ack:
        Consumer.ack = _guarded_ack  # type: ignore[method-assign]
        Consumer.perform_seek = _perform_seek_from_the_start_when_uncommitted  # type: ignore[method-assign]
