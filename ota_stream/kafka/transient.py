"""Whether a Kafka error means "the broker is away, wait for it" rather than "it refuses this request".

Apart from kafka/topics.py (Faust's Topic), so that the clients that never load Faust (the ingest processes' own
topic declarations) wait on the same errors with the same backoff.
"""

from __future__ import annotations

from aiokafka.errors import BrokerNotAvailableError, InvalidReplicationFactorError, KafkaTimeoutError
from faust.exceptions import NotReady  # faust.exceptions alone: no Faust app machinery

from ota_stream.retry import Backoff

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
