"""The sink: consume `ota-events`, batch, dead-letter poison, write to ClickHouse exactly once, update the live
windows, then ack.

Faust's `take_events` acks a batch only after this body has finished with it, so offsets are committed only
after the insert has succeeded. Redelivered or retried events are dropped by the writer (see storage/writer.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from faust import Stream
from faust.types import EventT
from pydantic import ValidationError

from ota_stream import metrics
from ota_stream.agents.watchdog import record_progress
from ota_stream.models import OtaEvent
from ota_stream.publisher import EventPublisher
from ota_stream.retry import retry_forever
from ota_stream.storage.events_table import SourcedEvent
from ota_stream.storage.writer import EventWriter
from ota_stream.tables.live import LiveWindows

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    """What /health reports about the pipeline of this worker."""

    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    rate: metrics.RateMeter = field(default_factory=metrics.RateMeter)


@dataclass(frozen=True)
class Poison:
    key: bytes | None
    value: bytes
    reason: str
    kind: str
    source: str


def decode(events: Sequence[EventT]) -> tuple[list[tuple[SourcedEvent, EventT]], list[Poison]]:
    """Validate each message; the ones that are not events become poison for the dead-letter topic."""
    good: list[tuple[SourcedEvent, EventT]] = []
    poison: list[Poison] = []
    for event in events:
        message = event.message
        value = message.value if isinstance(message.value, bytes) else bytes(message.value or b"")
        source = f"{message.topic}/{message.partition}/{message.offset}"
        try:
            parsed = OtaEvent.model_validate_json(value)
        except ValidationError as exc:
            kind = "invalid_json" if exc.errors()[0]["type"] == "json_invalid" else "invalid_event"
            reason = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in exc.errors()[:10]
            )
            poison.append(Poison(message.key, value, f"{kind}: {reason}", kind, source))
            continue
        good.append((SourcedEvent(parsed, message.partition, message.offset), event))
    return good, poison


class ClickHouseSink:
    """The agent's body, kept apart from Faust's decorator so that it reads as a pipeline."""

    def __init__(
        self,
        writer: EventWriter,
        publisher: EventPublisher,
        live: LiveWindows | None,
        batch_size: int,
        flush_seconds: float,
    ) -> None:
        self.writer = writer
        self.publisher = publisher
        self.live = live
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.stats = SinkStats()

    async def run(self, stream: Stream) -> None:
        async for events in stream.take_events(self.batch_size, within=self.flush_seconds):
            await self.process(events)

    async def process(self, events: Sequence[EventT]) -> None:
        started = time.perf_counter()
        batch, poison = decode(events)
        for item in poison:
            await retry_forever(partial(self._dead_letter, item), "dead-letter publish", self.writer.backoff)
            metrics.DEAD_LETTERED.labels(item.kind).inc()
            log.warning("dead-lettered %s: %s", item.source, item.reason[:200])
        result = await self.writer.write([item for item, _ in batch])
        if self.live is not None:
            originals = {id(item) for item in result.originals}
            await self.live.update([pair for pair in batch if id(pair[0]) in originals])
        metrics.FLUSH_LATENCY.observe(time.perf_counter() - started)
        metrics.BATCHES_FLUSHED.inc()
        metrics.EVENTS_PROCESSED.inc(result.inserted)
        metrics.DUPLICATES_DROPPED.inc(result.duplicates)
        self.stats.processed += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += len(poison)
        self.stats.rate.add(len(batch))
        record_progress()  # for the stall watchdog

    async def _dead_letter(self, item: Poison) -> None:
        await self.publisher.dead_letter(item.key, item.value, item.reason, item.source)
