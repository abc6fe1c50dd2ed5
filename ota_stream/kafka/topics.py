"""Faust's Topic, with a declare that waits for the broker instead of failing.

Faust declares its internal topics (table changelogs, the leader topic) when it starts and again on rebalances.
A broker that is away at that moment raises NodeNotReadyError or a connection error out of Faust's service, and
the worker exits. With this class (the app's `Topic` setting) a declare waits, with backoff, for as long as the
broker is away; errors that waiting cannot fix (authorization, invalid configuration) are still raised.
"""

from __future__ import annotations

import faust
from aiokafka.errors import BrokerNotAvailableError, InvalidReplicationFactorError, KafkaTimeoutError
from faust.exceptions import NotReady

from ota_stream.retry import Backoff, retry_forever

DECLARE_BACKOFF = Backoff(initial=0.5, maximum=10.0)
# Not marked retriable by aiokafka, but what a broker that is stopping or starting answers: while it shuts down it
# is fenced, and a topic then "cannot be replicated 1 time(s)" (seen in CI as the broker-restart test's cause).
AWAY = (
    NotReady,
    TimeoutError,
    OSError,
    KafkaTimeoutError,
    BrokerNotAvailableError,
    InvalidReplicationFactorError,
)


def is_transient(exc: Exception) -> bool:
    """A broker that is away or not ready yet, as opposed to a request that it refuses."""
    return isinstance(exc, AWAY) or bool(getattr(exc, "retriable", False))


class ResilientTopic(faust.Topic):
    async def declare(self) -> None:
        await retry_forever(
            super().declare,
            f"declaring topic {', '.join(self.topics)}",
            DECLARE_BACKOFF,
            retry_if=is_transient,
        )
