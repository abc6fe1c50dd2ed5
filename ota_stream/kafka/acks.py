"""Letting go of stream events without acking them: what a stopping worker does with a batch it could not write.

Faust waits, before it commits and leaves the group, until every message handed to a stream is acked
(`Consumer.wait_empty`), and an ack marks the message's offset as safe to commit. A batch whose write was given up
must be neither: `release` marks its messages as finished (`Message.acked`, under Faust's `ack_lock`), so that the
wait ends and a later ack of them, such as the one that closes a stream's batch, records nothing. Their offsets
stay uncommitted and the next owner of the partition reads them again.
"""

from __future__ import annotations

from collections.abc import Iterable

from faust.types import EventT
from faust.types.tuples import ack_lock


def release(events: Iterable[EventT]) -> int:
    """Mark the messages of `events` finished without acking them; returns how many were not finished yet."""
    released = 0
    with ack_lock:
        for event in events:
            message = event.message
            if not message.acked:
                message.acked = True
                released += 1
    return released
