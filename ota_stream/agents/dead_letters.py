"""Dead letters, once per position: poison from decoding and rows that ClickHouse refused.

A poison message that is read again (a redelivery after a crash or a rebalance, before its offset was committed)
must not land in the dead-letter topic twice. Every position sent there is recorded in ClickHouse's
`dead_letters` table after the topic acknowledged it, and positions already recorded are skipped. The one gap:
a worker that dies after the topic's ack and before the record sends that message again on redelivery, with the
same `source` header, so readers of the topic can tell.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from ota_stream import metrics
from ota_stream.agents.decode import Poison
from ota_stream.kafka.producer import EventPublisher
from ota_stream.retry import Backoff, Cutoff, retry_forever
from ota_stream.storage.client import ClickHouse

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORDED_SQL = """
SELECT kafka_partition, kafka_offset, kafka_index FROM dead_letters
WHERE topic = {topic:String} AND has({positions:Array(Tuple(UInt32, UInt64, UInt32))},
    (kafka_partition, kafka_offset, kafka_index))
"""
COLUMNS = ("topic", "kafka_partition", "kafka_offset", "kafka_index", "kind", "reason", "value")


class DeadLetters:
    def __init__(
        self,
        publisher: EventPublisher,
        clickhouse: ClickHouse,
        topic: str,
        backoff: Backoff,
        on_retry: Callable[[Exception, int], None] | None = None,
        cutoff: Cutoff | None = None,
    ) -> None:
        """`cutoff`: when a stopping worker gives up retrying (retry.py)."""
        self.publisher = publisher
        self.clickhouse = clickhouse
        self.topic = topic
        self.backoff = backoff
        self.on_retry = on_retry
        self.cutoff = cutoff

    async def park(self, poison: Sequence[Poison]) -> int:
        """Send each poison position not sent before; returns how many were sent now."""
        if not poison:
            return 0
        positions = [item.position for item in poison]

        parameters = {"topic": self.topic, "positions": positions}
        found = await self._retrying(
            partial(self.clickhouse.query, RECORDED_SQL, parameters), "dead-letter lookup"
        )
        done = {tuple(row) for row in found}
        new = [item for item in poison if item.position not in done]
        for item in new:
            await self._retrying(partial(self._send, item), "dead-letter publish")
            metrics.DEAD_LETTERED.labels(item.kind).inc()
            log.warning("dead-lettered %s: %s", self.source(item), item.reason[:200])
        if new:
            rows: list[tuple[Any, ...]] = [
                (self.topic, *item.position, item.kind, item.reason, item.value) for item in new
            ]
            await self._retrying(
                partial(self.clickhouse.insert, "dead_letters", rows, COLUMNS), "dead-letter record"
            )
        return len(new)

    def source(self, item: Poison) -> str:
        return f"{self.topic}/{item.partition}/{item.offset}/{item.index}"

    async def _send(self, item: Poison) -> None:
        await self.publisher.dead_letter(item.key, item.value, item.reason, self.source(item))

    async def _retrying(self, operation: Callable[[], Awaitable[T]], what: str) -> T:
        result, _ = await retry_forever(operation, what, self.backoff, self.on_retry, cutoff=self.cutoff)
        return result
