"""The exactly-once write of event batches into ClickHouse.

Two kinds of duplicate reach the sink, and one mechanism removes both:
- a client retry: the same (tenant_id, event_id) again, in one batch or minutes later, at another offset;
- a Kafka redelivery: after a crash between the insert and the offset commit, the same batch comes again.

Before each insert the writer keeps the first occurrence of each key in the batch and drops every key that
`ota_events_raw` already holds. The key index `event_keys` (migration 004) names the ids that may be stored, and
only those are looked up in the table itself, so the check sees exactly the committed rows without scanning the
tenant's event_id column for every batch (a projection by event_id was measured first: 1,000 random ids touched
most of its 8,192-row granules, so it saved nothing). One sink consumer owns a partition at a time and all events
of an app share a partition, so no other writer races the check and the insert.

An insert that fails is retried with backoff until it succeeds, never dropped. The retry carries the same
`insert_deduplication_token`, derived from the rows' keys, so an attempt that reached ClickHouse but whose answer
was lost does not land twice, in the table or in its materialized views.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ota_stream.retry import Backoff, retry_forever
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.events_table import COLUMNS, TABLE, SourcedEvent, to_row

log = logging.getLogger(__name__)
T = TypeVar("T")

# The batch's ids whose key hash is in `event_keys` (migration 004): a superset of the ids already stored,
# read from a few small granules of a sorted index instead of the tenant's whole event_id column.
# The same expression as event_keys_mv in schema/004_event_keys.sql; if they ever differ, no id is a candidate and
# duplicates get through (tests/test_storage.py would fail).
KEY_HASH = "bitAnd(cityHash64({}), 0xFFFFFFFFFF)"
CANDIDATES_SQL = f"""
SELECT id FROM (SELECT arrayJoin({{event_ids:Array(String)}}) AS id)
WHERE {KEY_HASH.format("id")} IN (
    SELECT key_hash FROM event_keys
    WHERE tenant_id IN {{tenants:Array(String)}}
        AND key_hash IN (SELECT {KEY_HASH.format("arrayJoin({event_ids:Array(String)})")})
)
"""
EXISTING_KEYS_SQL = f"""
SELECT tenant_id, event_id, kafka_partition, kafka_offset FROM {TABLE}
WHERE tenant_id IN {{tenants:Array(String)}} AND event_id IN {{event_ids:Array(String)}}
"""

INSERT_SETTINGS = {
    "async_insert": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


@dataclass(frozen=True)
class WriteResult:
    """What a write did. `originals` are the events that are in ClickHouse from this Kafka position: the ones
    inserted now, and redelivered ones that an earlier attempt inserted. Client retries are in neither."""

    inserted: int
    duplicates: int
    attempts: int
    originals: list[SourcedEvent]


class EventWriter:
    def __init__(
        self,
        clickhouse: ClickHouse,
        backoff: Backoff | None = None,
        on_retry: Callable[[Exception, int], None] | None = None,
    ) -> None:
        self.clickhouse = clickhouse
        self.backoff = backoff or Backoff()
        self.on_retry = on_retry

    async def write(self, batch: Sequence[SourcedEvent]) -> WriteResult:
        """Insert the batch's new events; returns only once they are durably in ClickHouse."""
        first = first_occurrences(batch)
        attempts = 0
        existing: dict[tuple[str, str], tuple[int, int]] = {}
        if first:
            existing, attempts = await self._retrying(lambda: self._existing_keys(first))
        fresh = [item for item in first if item.dedup_key not in existing]
        redelivered = [
            item for item in first if existing.get(item.dedup_key) == (item.partition, item.offset)
        ]
        if fresh:
            token = dedup_token(fresh)
            rows = [to_row(item) for item in fresh]
            settings = {**INSERT_SETTINGS, "insert_deduplication_token": token}
            _, more = await self._retrying(lambda: self.clickhouse.insert(TABLE, rows, COLUMNS, settings))
            attempts += more
        originals = sorted(fresh + redelivered, key=lambda item: (item.partition, item.offset))
        return WriteResult(len(fresh), len(batch) - len(fresh), attempts, originals)

    async def _existing_keys(self, items: Sequence[SourcedEvent]) -> dict[tuple[str, str], tuple[int, int]]:
        """(tenant_id, event_id) -> the (partition, offset) it was first written from.

        The key index names the candidates; only they are looked up in the raw table, which is exact. A batch
        without duplicates (the usual case) has none, and never scans the raw table.
        """
        tenants = sorted({item.event.tenant_id for item in items})
        ids = [item.event.event_id for item in items]
        candidates = await self.clickhouse.query(CANDIDATES_SQL, {"tenants": tenants, "event_ids": ids})
        if not candidates:
            return {}
        parameters = {"tenants": tenants, "event_ids": [row[0] for row in candidates]}
        rows = await self.clickhouse.query(EXISTING_KEYS_SQL, parameters)
        return {(tenant, event_id): (partition, offset) for tenant, event_id, partition, offset in rows}

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        return await retry_forever(operation, "ClickHouse write", self.backoff, self.on_retry)


def first_occurrences(batch: Sequence[SourcedEvent]) -> list[SourcedEvent]:
    """Keep the first event of each (tenant_id, event_id), in batch order (lowest offset first)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for item in batch:
        if item.dedup_key not in seen:
            seen.add(item.dedup_key)
            kept.append(item)
    return kept


def dedup_token(items: Sequence[SourcedEvent]) -> str:
    """A token that names exactly this set of rows, so ClickHouse drops only a true re-send of the block."""
    digest = hashlib.blake2b(digest_size=16)
    for tenant, event_id in sorted(item.dedup_key for item in items):
        digest.update(tenant.encode() + b"\x00" + event_id.encode() + b"\x01")
    return f"ota-{digest.hexdigest()}"
