"""A small replicated table: a compacted Kafka topic that every process reads from its start and then follows.

API keys and alert rules must reach every process (Faust workers and the ingest processes, which are not Faust
apps), survive restarts, and change everywhere within seconds. A compacted topic does all three: the last record
of each key is kept forever, every process replays it at start, and new records arrive as they are written.
(A Faust GlobalTable would do the same inside Faust workers only.)

Writes go to the topic with acks=all, and `put` returns once this process has read its own write back, so a key
made through one request can be used by the next one on the same process. A record's value is JSON; None deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from mode import Service

from ota_stream.config import KafkaSettings
from ota_stream.kafka.options import client_options
from ota_stream.kafka.producer import RETIRE_TIMEOUT_SECONDS, retire
from ota_stream.kafka.replication import durability_configs

log = logging.getLogger(__name__)
V = TypeVar("V")
RETRY_SECONDS = 2.0


class CompactedTable(Service, Generic[V]):
    def __init__(
        self, settings: KafkaSettings, topic: str, decode: Callable[[dict[str, Any]], V], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.topic = topic
        self.decode = decode
        self.items: dict[str, V] = {}
        self.caught_up = asyncio.Event()  # set once the topic has been read to the end it had at start
        self._applied = -1  # offset of the last record applied
        self._progress = asyncio.Condition()
        self._producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        self.add_future(self._follow())

    async def on_stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await retire(producer)

    async def put(self, key: str, value: dict[str, Any] | None) -> None:
        """Write a record and wait until this process has applied it. Raises KafkaError if Kafka refuses.

        A producer that failed to start or to send is dropped, and the next change starts a new one: one kept after
        a failed start answered every later change 503 until the worker restarted, and an idempotent producer can
        be left unable to send after a failure (kafka/producer.py)."""
        producer = self._producer or await self._start_producer()
        payload = None if value is None else orjson.dumps(value)
        try:
            sent = await producer.send_and_wait(self.topic, payload, key=key.encode(), partition=0)
        except BaseException:
            if self._producer is producer:
                self._producer = None
                self.add_future(retire(producer))
            raise
        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(lambda: self._applied >= sent.offset), 30)

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **client_options(self.settings))
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):  # what start() opened before it failed (a client's sockets)
                await asyncio.wait_for(producer.stop(), RETIRE_TIMEOUT_SECONDS)
            raise
        self._producer = producer
        return producer

    async def _follow(self) -> None:
        """Read the topic from its start, then follow it, for as long as the service runs; reconnect on errors."""
        while not self.should_stop:
            try:
                await self._declare()
                await self._read()
            except (KafkaError, OSError) as exc:
                log.warning("reading %s failed, retrying: %r", self.topic, exc)
                await self.sleep(RETRY_SECONDS)

    async def _declare(self) -> None:
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await admin.start()
        try:
            configs = {**COMPACTED, **durability_configs(self.settings)}
            topic = NewTopic(self.topic, 1, self.settings.replicas, topic_configs=configs)
            await admin.create_topics([topic])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **client_options(self.settings))
        await consumer.start()
        partition = TopicPartition(self.topic, 0)
        try:
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            if end == 0:
                self.caught_up.set()
            while not self.should_stop:
                batches = await consumer.getmany(partition, timeout_ms=200)
                for record in batches.get(partition, []):
                    self._apply(record.key, record.value)
                    async with self._progress:
                        self._applied = record.offset
                        self._progress.notify_all()
                    if record.offset + 1 >= end:
                        self.caught_up.set()
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode()
        if value is None:
            self.items.pop(name, None)
            return
        try:
            self.items[name] = self.decode(orjson.loads(value))
        except Exception:
            log.exception("ignoring a record of %s that cannot be read (key %s)", self.topic, name)


# Keep every key's last record forever; tombstones go after a day.
COMPACTED = {"cleanup.policy": "compact", "delete.retention.ms": str(24 * 3600 * 1000)}
