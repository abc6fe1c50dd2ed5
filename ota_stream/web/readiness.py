"""Whether a process can take requests that need Kafka: shared by the worker's and the ingest processes' /health."""

from __future__ import annotations

from typing import Any

from ota_stream.auth.store import KeyStore
from ota_stream.kafka.producer import EventPublisher


def kafka_readiness(publisher: EventPublisher, keys: KeyStore) -> dict[str, Any]:
    """What this process needs of Kafka to answer: its producer, and the keys topic read to its end (until then
    keyed requests answer 503, so a process is not ready before it)."""
    ready = publisher.ready and keys.ready
    return {
        "status": "healthy" if ready else "unhealthy",
        "producer_ready": publisher.ready,
        "keys_loaded": keys.ready,
    }
