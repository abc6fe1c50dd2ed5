"""The ingest producer: acks=all and idempotent, so a 202 means the event is durably in Kafka.

Concurrent requests share Kafka messages and produce requests. Events wait in their partition's open envelope
(at most MAX_EVENTS events or MAX_BYTES) while the previous flight is in the air; when it lands, the open envelopes
of every partition leave together as the next flight, one message per envelope and one produce request for all of
them; each caller still waits for the acknowledgement of the envelope that holds its events. An idle publisher
sends at once, so a lone request waits one round trip, and under load flights grow by themselves. (A flight per
partition, each in the air on its own, made up to a produce request per partition and round trip: the writes to
the broker's socket took 19% of an ingest process's time at 64 concurrent requests, 2% with one flight.)

After a failed send the producer is replaced by a new one. aiokafka 0.14's idempotent producer does not recover
from a broker restart under load: a batch that expires while no leader is known has used its sequence number
without being written, and from then on every send to that partition fails with OutOfOrderSequenceNumber (or
waits forever). The Java client resets its producer id in that case; aiokafka does not, so we do it by starting a
new producer. Nothing is lost: the sends that failed were answered 503, and the client's retry of an event that
did land after all is dropped by the sink as a duplicate (see storage/writer.py). The replaced producer gets
RETIRE_TIMEOUT_SECONDS to flush, then is closed with whatever it still holds.

Faust's own producer is not idempotent outside transactions, so ingest and the dead-letter topic use this one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from mode import Service

from ota_stream import metrics
from ota_stream.config import KafkaSettings
from ota_stream.errors import Unavailable
from ota_stream.kafka import envelope
from ota_stream.kafka.options import client_options

log = logging.getLogger(__name__)

# Kafka's default message limit is 1 MB; a dead letter keeps the head of an oversized message.
DEAD_LETTER_MAX_VALUE = 256 * 1024
CONNECT_RETRY_SECONDS = 2.0
# How long a replaced producer may take to flush what it still holds before it is dropped.
RETIRE_TIMEOUT_SECONDS = 10.0
PARTITIONS_TTL_SECONDS = 1.0
Headers = list[tuple[str, bytes]]


class KafkaUnavailable(Unavailable):
    """The broker did not acknowledge in time; the client should retry later (HTTP 503). The message holds aiokafka's
    error, for the log only."""

    answer = "Kafka is unavailable; retry later"


class KafkaBusy(KafkaUnavailable):
    """Kafka has not acknowledged the flight in the air for INGEST_MAX_WAIT_SECONDS: the events were refused before
    they were queued behind it (HTTP 503), so nothing of them reaches Kafka."""

    answer = "Kafka is slower than the clients; retry later"
    retry_after_seconds = 1


@dataclass
class _Envelope:
    """Lines waiting for one partition's next message, and the future their senders wait on."""

    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    acked: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def fits(self, lines: Sequence[bytes], size: int) -> bool:
        if not self.lines:
            return True
        return len(self.lines) + len(lines) <= envelope.MAX_EVENTS and self.size + size <= envelope.MAX_BYTES


class EventPublisher(Service):
    """Publishes row lines to KAFKA_TOPIC in envelopes, and poison messages to the dead-letter topic."""

    def __init__(
        self,
        settings: KafkaSettings,
        on_replaced: Callable[[], None] = metrics.PRODUCER_REPLACED.inc,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.on_replaced = on_replaced
        self._producer: AIOKafkaProducer | None = None
        self._open: dict[int, list[_Envelope]] = {}  # per partition, waiting for the next flight
        self._partition_count = (0.0, 0)  # (when read, count)
        # The flight in the air, referenced so that the loop does not drop it.
        self._flight: asyncio.Task[None] | None = None
        self._flight_started = 0.0  # when the flight in the air was sent (monotonic)

    @property
    def ready(self) -> bool:
        return self._producer is not None

    def _new_producer(self) -> AIOKafkaProducer:
        s = self.settings
        compression = None if s.compression_type.value == "none" else s.compression_type.value
        return AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            linger_ms=s.linger_ms,
            max_batch_size=max(s.batch_size, envelope.MAX_BYTES + 64 * 1024),
            compression_type=compression,
            request_timeout_ms=int(s.ack_timeout_seconds * 1000),
            client_id="ota-stream-ingest",
            **client_options(s),
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
        self.on_replaced()
        self._producer = None
        self.add_future(retire(failed))
        self.add_future(self._connect())

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await retire(producer)  # bounded: a stop while Kafka refuses writes would never return

    def _current(self) -> AIOKafkaProducer:
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("the Kafka producer is not connected")
        return producer

    async def partitions(self) -> int:
        """The events topic's partition count, from the producer's metadata (fetched when missing), looked up at
        most once every PARTITIONS_TTL_SECONDS rather than for every request."""
        producer = self._current()
        checked, count = self._partition_count
        if checked > time.monotonic() - PARTITIONS_TTL_SECONDS and count:
            return count
        count = await self._read_partitions(producer)
        self._partition_count = (time.monotonic(), count)
        return count

    async def _read_partitions(self, producer: AIOKafkaProducer) -> int:
        known = producer.client.cluster.partitions_for_topic(self.settings.topic)
        if not known:
            try:
                known = await asyncio.wait_for(
                    producer.partitions_for(self.settings.topic),
                    self.settings.ack_timeout_seconds,
                )
            except (KafkaError, TimeoutError) as exc:
                raise KafkaUnavailable(f"no metadata for {self.settings.topic}: {exc!r}") from exc
        return len(known)

    async def publish(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (partition key, row line) pairs; return once the broker has acknowledged every one of them.

        Raises KafkaBusy, before queueing anything, while the flight in the air is older than INGEST_MAX_WAIT_SECONDS.
        """
        if self._flight is not None:
            waited = time.monotonic() - self._flight_started
            if waited > self.settings.max_wait_seconds:
                raise KafkaBusy(f"the send in the air has waited {waited:.1f} s for Kafka's acknowledgement")
        partitions = await self.partitions()
        by_partition: dict[int, list[bytes]] = {}
        for key, line in items:
            by_partition.setdefault(envelope.partition_for(key, partitions), []).append(line)
        waits = [self._enqueue(partition, lines) for partition, lines in by_partition.items()]
        await (waits[0] if len(waits) == 1 else asyncio.gather(*waits))

    def _enqueue(self, partition: int, lines: list[bytes]) -> asyncio.Future[None]:
        """Add lines to the partition's open envelope (a new one when they do not fit); start a flight if none is
        in the air."""
        queue = self._open.setdefault(partition, [])
        size = sum(map(len, lines)) + len(lines)
        if not queue or not queue[-1].fits(lines, size):
            queue.append(_Envelope())
        open_envelope = queue[-1]
        open_envelope.lines.extend(lines)
        open_envelope.size += size
        if self._flight is None:
            # Its clock starts now, not when the task first runs: a request in between must not measure its wait
            # from the flight before (after a quiet spell, minutes ago) and be refused.
            self._flight_started = time.monotonic()
            self._flight = asyncio.ensure_future(self._fly())
        return open_envelope.acked

    async def _fly(self) -> None:
        """Send every waiting envelope in one flight, wait for its acks, and go again until none is waiting."""
        try:
            while self._open:
                waiting, self._open = self._open, {}
                self._flight_started = time.monotonic()
                flight = [(partition, item) for partition, items in waiting.items() for item in items]
                messages = [(partition, None, envelope.pack(item.lines)) for partition, item in flight]
                try:
                    await self._deliver(self.settings.topic, messages, envelope.HEADERS)
                # KafkaUnavailable (503), or anything unforeseen: no caller may wait forever.
                except Exception as exc:
                    for _, item in flight:
                        item.acked.set_exception(exc)
                        item.acked.exception()  # retrieved: a caller that went away must not log "never retrieved"
                else:
                    for _, item in flight:
                        item.acked.set_result(None)
        finally:
            self._flight = None

    async def dead_letter(self, key: bytes | None, value: bytes, reason: str, source: str) -> None:
        """Park a message that cannot be processed, with the reason in its headers."""
        headers = [("reason", reason.encode()[:1000]), ("source", source.encode())]
        if len(value) > DEAD_LETTER_MAX_VALUE:
            value = value[:DEAD_LETTER_MAX_VALUE]
            headers.append(("truncated", b"true"))
        await self._deliver(self.settings.dead_letter_topic, [(None, key, value)], headers)

    async def _deliver(
        self, topic: str, messages: Sequence[tuple[int | None, bytes | None, bytes]], headers: Headers
    ) -> None:
        """Send (partition or None, key, value) messages and wait for every ack; a failure replaces the producer and
        raises KafkaUnavailable."""
        producer = self._current()
        try:
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers, partition=partition)
                for partition, key, value in messages
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.settings.ack_timeout_seconds)
        except (KafkaError, TimeoutError) as exc:
            self._replace(producer, exc)
            raise KafkaUnavailable(f"Kafka did not acknowledge {topic}: {exc!r}") from exc


async def retire(producer: AIOKafkaProducer) -> None:
    """Give a producer that is done with (replaced, or its owner stopping) RETIRE_TIMEOUT_SECONDS to deliver what it
    holds, then close it either way."""
    try:
        await asyncio.wait_for(producer.flush(), timeout=RETIRE_TIMEOUT_SECONDS)
        await producer.stop()
    except (KafkaError, TimeoutError) as exc:
        log.warning("a retired Kafka producer could not deliver what it holds, closing it: %r", exc)
        # A producer on its way out must not take its owner (ingest, the key store) down with it.
        try:
            await _close_unflushed(producer)
        except Exception:
            log.exception("a retired Kafka producer did not close")


async def _close_unflushed(producer: AIOKafkaProducer) -> None:
    """Close a producer that could not deliver what it holds, without waiting for it.

    aiokafka's idempotent producer retries a batch until it is written, so while Kafka refuses writes (fewer
    replicas in sync than min.insync.replicas) its stop() never returns, and a stop() cancelled by a timeout leaves
    the sender retrying and the connections open for good: one more such producer with every failed send. The
    sender is stopped instead (after its requests in flight), then the connections are closed; the batches left are
    dropped, their senders having been answered 503 already. (Failing them with aiokafka's fail_all is not an
    option: a batch sent once and queued again raises KeyError in its own done callback.)
    """
    await producer._sender.close()
    # What stop() sets first; it keeps the producer from warning that it was never closed.
    producer._closed = True
    await producer.client.close()
