"""Letting go of stream events without acking them: what a stopping worker does with a batch it could not write.

Faust waits, before it commits and leaves the group, until every message handed to a stream is acked
(`Consumer.wait_empty`), and an ack marks the message's offset as safe to commit. A batch whose write was given up
must be neither, and nor must a message the stream took while that batch was being written (it waits in the
stream for the batch to end, which it never does). `release` marks them all as finished (`Message.acked`, under
Faust's `ack_lock`), so that the wait ends and a later ack of them, such as the one that closes a stream's batch,
records nothing. Their offsets stay uncommitted and the next owner of the partition reads them again.
"""

from __future__ import annotations

from collections.abc import Sequence

from faust.types import EventT
from faust.types.tuples import ack_lock


def release(events: Sequence[EventT]) -> int:
    """Mark finished, without acking them, the messages of `events` and every other message the consumer has
    handed to a stream and not seen acked; returns how many were not finished yet. Only for a worker that stops:
    whatever else its streams hold is given up too."""
    if not events:
        return 0
    consumer = events[0].app.consumer
    held = [event.message for event in events] + list(consumer._unacked_messages)  # type: ignore[attr-defined]
    released = 0
    with ack_lock:
        for message in held:
            if not message.acked:
                message.acked = True
                released += 1
    return released
