"""The sink: consume `ota-events`, decode a batch into columns, dead-letter poison, write to ClickHouse exactly
once, update the live windows, then ack.

Faust's per-message cost is paid per Kafka message, and ingest packs many events into one (kafka/envelope.py), so
everything here works on a whole batch at once: one JSON read into Arrow, one duplicate lookup, one insert of
columns, one pass over the live windows. The batch's messages are acked only after this body has finished with
them (`take_weighted`), so offsets are committed only after the insert has succeeded. Redelivered or retried
events are dropped by the writer (see storage/writer.py). A worker that stops while an insert is being retried
gives the batch up after a while (shutdown.py): its messages are released, never acked, and read again later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
from faust.types import EventT

from ota_stream import metrics
from ota_stream.agents.dead_letters import DeadLetters
from ota_stream.agents.decode import Message, Poison, decode
from ota_stream.kafka import envelope
from ota_stream.kafka.acks import release
from ota_stream.kafka.coalesce import parts_of
from ota_stream.kafka.stream import WeightedStream
from ota_stream.models import TimeWindow
from ota_stream.retry import Abandoned
from ota_stream.storage.events_table import stored_line
from ota_stream.storage.writer import EventWriter
from ota_stream.tables.live import LiveWindows

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    """What /health reports about the pipeline of this worker."""

    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    refused: int = 0
    rate: metrics.RateMeter = field(default_factory=metrics.RateMeter)
    last_batch_at: float | None = None  # time.monotonic() of the last batch written
    # What the stall healer reads (agents/healer.py), time.monotonic() too: when the sink began to take events (its
    # storage open), since when it holds the batch it is writing (None between batches), and when a write of it
    # (to ClickHouse, or a dead letter to Kafka) last failed.
    started_at: float | None = None
    batch_started_at: float | None = None
    last_retry_at: float | None = None

    def note_retry(self, exc: Exception, attempt: int) -> None:
        """A write failed and is retried (the dead letters' `on_retry`)."""
        self.last_retry_at = time.monotonic()

    def note_insert_retry(self, exc: Exception, attempt: int) -> None:
        """A ClickHouse write of the writer failed and is retried (its `on_retry`)."""
        metrics.INSERT_RETRIES.inc()
        self.note_retry(exc, attempt)


def weight(event: EventT) -> int:
    """Events in a Kafka message: the lines of an envelope, or one."""
    message = to_message(event)
    if envelope.is_envelope(message.headers):
        return envelope.line_count(message.value)
    return 1


def to_message(event: EventT) -> Message:
    """The parts of a Faust event that decoding reads (aiokafka gives headers as a sequence of pairs)."""
    m = event.message
    value = m.value if isinstance(m.value, bytes) else bytes(m.value or b"")
    headers = list(m.headers.items()) if isinstance(m.headers, Mapping) else m.headers
    return Message(m.partition, m.offset, m.key, value, headers, parts_of(m))


class ClickHouseSink:
    """The agent's body, kept apart from Faust's decorator so that it reads as a pipeline."""

    def __init__(
        self,
        writer: EventWriter,
        dead_letters: DeadLetters,
        live: LiveWindows | None,
        window: TimeWindow,
        batch_size: int,
        flush_seconds: float,
        stats: SinkStats | None = None,
    ) -> None:
        self.writer = writer
        self.dead_letters = dead_letters
        self.live = live
        self.window = window
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.stats = stats or SinkStats()

    async def run(self, stream: WeightedStream) -> None:
        """Write batch after batch until the stream ends, or until a stopping worker gives up a batch's write."""
        self.stats.started_at = time.monotonic()
        async for events in stream.take_weighted(self.batch_size, self.flush_seconds, weight):
            self.stats.batch_started_at = time.monotonic()
            try:
                await self.process(events)
            except Abandoned as exc:
                # Never acked, never committed: the next owner of these partitions reads the batch again.
                released = release(events)
                log.warning(
                    "stopping: gave up the batch being written, %d messages released to be read again: %s",
                    released,
                    exc,
                )
                return
            finally:
                self.stats.batch_started_at = None

    async def process(self, events: Sequence[EventT], now: datetime | None = None) -> None:
        started = time.perf_counter()
        batch = decode([to_message(event) for event in events], self.window.bounds(now))
        dead = await self.dead_letters.park(batch.poison)
        result = await self.writer.write(batch.rows)
        refused = [self._refused(batch.rows, row, reason) for row, reason in result.refused]
        dead += await self.dead_letters.park(refused)
        if self.live is not None and result.originals.num_rows:
            await self.live.update(result.originals)
        metrics.FLUSH_LATENCY.observe(time.perf_counter() - started)
        metrics.BATCHES_FLUSHED.inc()
        metrics.EVENTS_PROCESSED.inc(result.inserted)
        metrics.DUPLICATES_DROPPED.inc(result.duplicates)
        self.stats.processed += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += dead
        self.stats.refused += len(refused)
        self.stats.rate.add(batch.rows.num_rows)
        self.stats.last_batch_at = time.monotonic()

    @staticmethod
    def _refused(rows: pa.Table, row: int, reason: str) -> Poison:
        """A row ClickHouse refused, as a dead letter: its row line, at its position."""
        line, (partition, offset, index) = stored_line(rows, row)
        return Poison(
            None, line, "clickhouse_rejected", f"clickhouse_rejected: {reason}", partition, offset, index
        )
