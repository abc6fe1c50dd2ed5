"""The ingest producer: acks=all and idempotent, so a 202 means the event is durably in Kafka.

Faust's own producer is not idempotent outside transactions, so ingest and the dead-letter topic use this one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from mode import Service

from ota_stream.config import Settings

log = logging.getLogger(__name__)

# Kafka's default message limit is 1 MB; a dead letter keeps the head of an oversized message.
DEAD_LETTER_MAX_VALUE = 256 * 1024


class KafkaUnavailable(RuntimeError):
    """The broker did not acknowledge in time; the client should retry later (HTTP 503)."""


def kafka_auth(settings: Settings) -> dict[str, Any]:
    """Security options shared by every Kafka client of the worker."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol.value}
    if settings.kafka_sasl_mechanisms:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanisms.value
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_security_protocol.value in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


class EventPublisher(Service):
    """Publishes validated events to KAFKA_TOPIC and poison messages to the dead-letter topic."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    def _new_producer(self) -> AIOKafkaProducer:
        s = self.settings
        compression = None if s.kafka_compression_type.value == "none" else s.kafka_compression_type.value
        return AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=s.kafka_linger_ms,
            max_batch_size=s.kafka_batch_size,
            compression_type=compression,
            request_timeout_ms=int(s.ingest_ack_timeout_seconds * 1000),
            client_id="ota-stream-ingest",
            **kafka_auth(s),
        )

    @Service.task
    async def _connect(self) -> None:
        """Connect in the background: the worker starts while Kafka is down, and ingest answers 503."""
        while not self.should_stop:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("Kafka producer cannot connect yet: %s", exc)
                await producer.stop()
                await self.sleep(2.0)
                continue
            self._producer = producer
            return

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, items: Sequence[tuple[bytes, bytes]], topic: str | None = None) -> None:
        """Send (key, value) pairs and wait until the broker has acknowledged every one of them."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not connected")
        topic = topic or self.settings.kafka_topic
        try:
            futures = [await producer.send(topic, value=value, key=key) for key, value in items]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.settings.ingest_ack_timeout_seconds)
        except (KafkaError, TimeoutError) as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc

    async def dead_letter(self, key: bytes | None, value: bytes, reason: str, source: str) -> None:
        """Park a message that cannot be processed, with the reason in its headers."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not connected")
        headers = [("reason", reason.encode()[:1000]), ("source", source.encode())]
        if len(value) > DEAD_LETTER_MAX_VALUE:
            value = value[:DEAD_LETTER_MAX_VALUE]
            headers.append(("truncated", b"true"))
        future = await producer.send(self.settings.dlq_topic, value=value, key=key, headers=headers)
        await future
