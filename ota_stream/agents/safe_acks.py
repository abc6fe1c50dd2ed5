"""A guard on Faust's acks: never commit past a message that a stream skipped during a rebalance.

Faust's stream loop skips a message when its consumer generation is stale or flow control is paused (a
rebalance is under way) and then acks it, "so that the lag does not grow". Acked offsets are committed, so a
message skipped that way is never read again: it is lost. Faust relies on the seek to committed offsets after the
rebalance, but acks that land after that seek move the commit past messages that no one processed. We saw it
with two workers and a slow agent body (live tables): a few percent of the events sent during the second
worker's join were committed without reaching ClickHouse.

The guard lets such an ack release the message (so that shutdown and `wait_empty` do not wait for it) without
recording its offset, so no commit moves past it; the message is read again after the rebalance, and the writer
drops it if it was in fact written.

Not covered (README, known issues): after a rebalance Faust seeks only partitions that have a committed offset; a
partition with none keeps its fetch position, past messages read and skipped in the old generation. Seeking those
partitions back to 0 from here fixed that in tests, but raced aiokafka's fetcher (KeyError in fetched_records,
a crashed worker) under kill -9 restarts, so it was taken out.
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


def install() -> None:
    """Idempotent: patch Faust's consumer once per process."""
    if Consumer.ack is not _guarded_ack:
        Consumer.ack = _guarded_ack  # type: ignore[method-assign]
