"""The ingest producer: acks=all and idempotent, so a 202 means the event is durably in Kafka.

Faust's own producer is not idempotent outside transactions, so ingest and the dead-letter topic use this one.

After a failed send the producer is replaced by a new one. aiokafka 0.14's idempotent producer does not recover
from a broker restart under load: a batch that expires while no leader is known has used its sequence number
without being written, and from then on every send to that partition fails with OutOfOrderSequenceNumber (or
waits forever). The Java client resets its producer id in that case; aiokafka does not, so we do it by starting a
new producer. Nothing is lost: the sends that failed were answered 503, and the client's retry of an event that
did land after all is dropped by the sink as a duplicate (see storage/writer.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from mode import Service

from ota_stream import metrics
from ota_stream.config import Settings

log = logging.getLogger(__name__)

# Kafka's default message limit is 1 MB; a dead letter keeps the head of an oversized message.
DEAD_LETTER_MAX_VALUE = 256 * 1024
CONNECT_RETRY_SECONDS = 2.0
# How long a replaced producer may take to flush what it still holds before it is dropped.
RETIRE_TIMEOUT_SECONDS = 10.0


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

    async def on_start(self) -> None:
        self.add_future(self._connect())

    async def _connect(self) -> None:
        """Connect in the background, at start and after a replacement; ingest answers 503 meanwhile."""
        while not self.should_stop:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("Kafka producer cannot connect yet: %s", exc)
                await producer.stop()
                await self.sleep(CONNECT_RETRY_SECONDS)
                continue
            self._producer = producer
            return

    def _replace(self, failed: AIOKafkaProducer, error: BaseException) -> None:
        """Retire a producer whose send failed and connect a new one (once, however many sends failed)."""
        if self._producer is not failed:
            return  # already being replaced
        log.warning("replacing the Kafka producer after a failed send: %r", error)
        metrics.PRODUCER_REPLACED.inc()
        self._producer = None
        self.add_future(self._retire(failed))
        self.add_future(self._connect())

    async def _retire(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout=RETIRE_TIMEOUT_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            log.warning("the replaced Kafka producer did not stop cleanly: %r", exc)

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _current(self) -> AIOKafkaProducer:
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not connected")
        return producer

    async def publish(self, items: Sequence[tuple[bytes, bytes]], topic: str | None = None) -> None:
        """Send (key, value) pairs and wait until the broker has acknowledged every one of them."""
        await self._deliver(topic or self.settings.kafka_topic, items)

    async def dead_letter(self, key: bytes | None, value: bytes, reason: str, source: str) -> None:
        """Park a message that cannot be processed, with the reason in its headers."""
        headers = [("reason", reason.encode()[:1000]), ("source", source.encode())]
        if len(value) > DEAD_LETTER_MAX_VALUE:
            value = value[:DEAD_LETTER_MAX_VALUE]
            headers.append(("truncated", b"true"))
        await self._deliver(self.settings.dlq_topic, [(key, value)], headers)

    async def _deliver(
        self,
        topic: str,
        items: Sequence[tuple[bytes | None, bytes]],
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Send and wait for every ack; a failure replaces the producer and raises KafkaUnavailable."""
        producer = self._current()
        try:
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers) for key, value in items
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.settings.ingest_ack_timeout_seconds)
        except (KafkaError, TimeoutError) as exc:
            self._replace(producer, exc)
            raise KafkaUnavailable(f"Kafka did not acknowledge {topic}: {exc!r}") from exc
