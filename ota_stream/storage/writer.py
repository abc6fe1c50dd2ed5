"""The exactly-once write of a batch of rows (an Arrow table) into ClickHouse.

Two kinds of duplicate reach the sink, and one mechanism removes both:
- a client retry: the same (tenant_id, event_id) again, in one batch or minutes later, at another position;
- a Kafka redelivery: after a crash between the insert and the offset commit, the same rows come again.

Before each insert the writer keeps the first occurrence of each key in the batch and drops every key that
`ota_events_raw` already holds. The key index `event_keys` (migration 004) names the ids that may be stored, and
only those are looked up in the table itself, so the check sees exactly the committed rows without scanning the
tenant's event_id column for every batch. The batch's ids travel as one JSON parameter, escaped in one C call. One
sink consumer owns a partition at a time and all events of an app share a partition, so no other writer races
the check and the insert.

On a ClickHouse cluster (storage/ddl.py) the check stays exact. Both lookups read the Distributed tables, so they
see every shard; and an event's shard is fixed by its app key, which a retry or a redelivery of the event repeats
(event ids are unique per tenant), so a duplicate would land on the shard of its original. The insert returns once
a majority of that shard's replicas hold the rows (client.CLUSTER_SESSION_SETTINGS), and the lookups read with
`select_sequential_consistency`, only from replicas that hold every such insert: a replica that has not fetched
the last batch yet cannot hide it.

An insert that fails because ClickHouse is away (or its schema is wrong) is retried with backoff until it
succeeds, never dropped; only a worker that is stopping gives it up (`Abandoned`), so that its offsets stay
uncommitted and the next owner reads it again. The retry carries the same `insert_deduplication_token`, derived
from the rows' keys, so an attempt that reached ClickHouse but whose answer was lost does not land twice, in the
table or in its materialized views (`deduplicate_blocks_in_dependent_materialized_views`: each view checks the
token itself).

A crash is the one case a retry in the same process cannot mend: ClickHouse commits an insert to the raw table
before its views, so a worker killed in between leaves rows that some views lack, `event_keys` among them (whose
lookup would then miss them and write them twice). Each row therefore carries its insert's id (`sink_block`,
migration 009), and before the first batch of a partition that does not continue where this writer left it (a
start, a rebalance, a redelivery), the writer repeats from the raw table, with the original token, every insert
that wrote rows at or after the batch's first offset: those offsets were never committed, so they are the only
rows a crash can have left half written. Repeating an insert that every view already has changes nothing.

An insert refused for its rows (storage/errors.py) is split in halves until the refused rows are alone; those are
returned to be dead-lettered, and every other row is written.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pyarrow as pa

from ota_stream.retry import Backoff, Cutoff, retry_forever
from ota_stream.storage.client import ClickHouse, json_param
from ota_stream.storage.errors import refuses_rows
from ota_stream.storage.events_table import TABLE

log = logging.getLogger(__name__)
T = TypeVar("T")
Position = tuple[int, int, int]
SINK_BLOCK = "sink_block"

# The batch's ids whose key hash is in `event_keys` (migration 004): a superset of the ids already stored,
# read from a few small granules of a sorted index instead of the tenant's whole event_id column.
# The same expression as event_keys_mv in schema/004_event_keys.sql; if they ever differ, no id is a candidate and
# duplicates get through (tests/test_storage.py would fail).
KEY_HASH = "bitAnd(cityHash64({}), 0xFFFFFFFFFF)"
_IDS = "JSONExtract({event_ids:String}, 'Array(String)')"
CANDIDATES_SQL = f"""
SELECT id FROM (SELECT arrayJoin({_IDS}) AS id)
WHERE {KEY_HASH.format("id")} IN (
    SELECT key_hash FROM event_keys
    WHERE tenant_id IN {{tenants:Array(String)}}
        AND key_hash IN (SELECT {KEY_HASH.format(f"arrayJoin({_IDS})")})
)
"""
# The inserts that wrote rows at or after each partition's first offset in this batch (none were committed).
INTERRUPTED_SQL = f"""
SELECT DISTINCT sink_block FROM {TABLE}
WHERE kafka_partition IN {{partitions:Array(UInt32)}} AND kafka_offset >= {{lowest:UInt64}}
    AND kafka_offset >= {{starts:Array(UInt64)}}[indexOf({{partitions:Array(UInt32)}}, kafka_partition)]
    AND sink_block != 0
"""
# The rows of one insert, to send again as one block with its token. `*` leaves out the MATERIALIZED columns.
BLOCK_ROWS_SQL = f"SELECT * FROM {TABLE} WHERE sink_block = {{block:UInt64}}"
EXISTING_KEYS_SQL = f"""
SELECT tenant_id, event_id, kafka_partition, kafka_offset, kafka_index FROM {TABLE}
WHERE tenant_id IN {{tenants:Array(String)}} AND event_id IN {_IDS}
"""

# On a cluster: read only replicas that hold every quorum insert (see the module's docstring).
CLUSTER_LOOKUP_SETTINGS = {"select_sequential_consistency": 1}
INSERT_SETTINGS = {
    "async_insert": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


@dataclass(frozen=True)
class WriteResult:
    """What a write did.

    `originals` are the rows that are in ClickHouse from their position: inserted now, or redelivered ones that an
    earlier attempt inserted. Client retries are in neither. `refused` are (row of the input, ClickHouse's reason).
    """

    inserted: int
    duplicates: int
    attempts: int
    originals: pa.Table
    refused: list[tuple[int, str]] = field(default_factory=list)


class EventWriter:
    def __init__(
        self,
        clickhouse: ClickHouse,
        backoff: Backoff | None = None,
        on_retry: Callable[[Exception, int], None] | None = None,
        cutoff: Cutoff | None = None,
    ) -> None:
        """`cutoff`: when a stopping worker gives up retrying a write (retry.py); `write` then raises `Abandoned`."""
        self.clickhouse = clickhouse
        self.backoff = backoff or Backoff()
        self.on_retry = on_retry
        self.cutoff = cutoff
        self._lookup_settings = CLUSTER_LOOKUP_SETTINGS if clickhouse.config.cluster else None
        # partition -> the offset after the last message this writer wrote from it
        self._continues_at: dict[int, int] = {}

    async def write(self, rows: pa.Table) -> WriteResult:
        """Insert the batch's new rows; returns only once they are durably in ClickHouse (or refused by it)."""
        keys = list(
            zip(rows.column("tenant_id").to_pylist(), rows.column("event_id").to_pylist(), strict=True)
        )
        first = first_occurrences(keys)
        spans = _offset_spans(rows)
        starts = {p: lo for p, (lo, _) in spans.items() if self._continues_at.get(p) != lo}
        attempts = 0
        if starts:
            _, attempts = await self._retrying(lambda: self._repeat_interrupted(starts))
        existing: dict[tuple[str, str], Position] = {}
        if first:
            existing, more = await self._retrying(lambda: self._existing_keys([keys[i] for i in first]))
            attempts += more
        fresh = [i for i in first if keys[i] not in existing]
        positions = _positions(rows)
        redelivered = [i for i in first if existing.get(keys[i]) == positions[i]]
        refused, more = await self._insert(_take(rows, fresh))
        attempts += more
        refused_rows = {fresh[i] for i, _ in refused}
        originals = sorted({*fresh, *redelivered} - refused_rows)
        inserted = len(fresh) - len(refused)
        self._continues_at.update((p, hi + 1) for p, (_, hi) in spans.items())
        return WriteResult(
            inserted,
            len(keys) - len(fresh),
            attempts,
            _take(rows, originals),
            [(fresh[i], reason) for i, reason in refused],
        )

    async def _repeat_interrupted(self, starts: dict[int, int]) -> None:
        """Repeat, with its own token, each insert that wrote rows at or after these offsets (see the module)."""
        settings = self._lookup_settings
        partitions = sorted(starts)
        parameters = {
            "partitions": partitions,
            "starts": [starts[p] for p in partitions],
            "lowest": min(starts.values()),
        }
        blocks = await self.clickhouse.query(INTERRUPTED_SQL, parameters, settings)
        for (block,) in blocks:
            rows = await self.clickhouse.query_arrow(BLOCK_ROWS_SQL, {"block": block}, settings)
            await self.clickhouse.insert_arrow(
                TABLE, one_block(rows), {**INSERT_SETTINGS, **insert_token(block)}
            )
        if blocks:
            log.info("repeated %d inserts that a crash may have left out of some views", len(blocks))

    async def _existing_keys(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Position]:
        """(tenant_id, event_id) -> the position it was first written from.

        The key index names the candidates; only they are looked up in the raw table, which is exact. A batch
        without duplicates (the usual case) has none, and never scans the raw table.
        """
        tenants = sorted({tenant for tenant, _ in keys})
        ids = [event_id for _, event_id in keys]
        settings = self._lookup_settings
        candidates = await self.clickhouse.query(
            CANDIDATES_SQL, {"tenants": tenants, "event_ids": json_param(ids)}, settings
        )
        if not candidates:
            return {}
        parameters = {"tenants": tenants, "event_ids": json_param([row[0] for row in candidates])}
        found = await self.clickhouse.query(EXISTING_KEYS_SQL, parameters, settings)
        return {(tenant, event_id): (p, o, i) for tenant, event_id, p, o, i in found}

    async def _insert(self, rows: pa.Table) -> tuple[list[tuple[int, str]], int]:
        """Insert all rows but the ones ClickHouse refuses; returns (refused row, reason) and the attempts."""
        if rows.num_rows == 0:
            return [], 0
        block = block_id(rows)
        marked = one_block(
            rows.append_column(SINK_BLOCK, pa.repeat(pa.scalar(block, pa.uint64()), len(rows)))
        )
        settings = {**INSERT_SETTINGS, **insert_token(block)}
        try:
            _, attempts = await self._retrying(
                lambda: self.clickhouse.insert_arrow(TABLE, marked, settings), retry_if=_not_refused
            )
            return [], attempts
        except Exception as exc:
            if not refuses_rows(exc):
                raise
            if rows.num_rows == 1:
                log.warning("ClickHouse refused a row: %s", exc)
                return [(0, str(exc)[:1000])], 1
        half = rows.num_rows // 2
        left, first_attempts = await self._insert(rows.slice(0, half))
        right, more = await self._insert(rows.slice(half))
        return left + [(half + i, reason) for i, reason in right], 1 + first_attempts + more

    async def _retrying(
        self, operation: Callable[[], Awaitable[T]], retry_if: Callable[[Exception], bool] = lambda exc: True
    ) -> tuple[T, int]:
        return await retry_forever(
            operation, "ClickHouse write", self.backoff, self.on_retry, retry_if, self.cutoff
        )


def _take(rows: pa.Table, indices: list[int]) -> pa.Table:
    return rows.take(pa.array(indices, pa.int64()))


def _not_refused(exc: Exception) -> bool:
    return not refuses_rows(exc)


def _positions(rows: pa.Table) -> list[Position]:
    return list(
        zip(
            rows.column("kafka_partition").to_pylist(),
            rows.column("kafka_offset").to_pylist(),
            rows.column("kafka_index").to_pylist(),
            strict=True,
        )
    )


def first_occurrences(keys: list[tuple[str, str]]) -> list[int]:
    """The index of the first row of each (tenant_id, event_id), in batch order (lowest position first)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for i, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def block_id(rows: pa.Table) -> int:
    """An id that names exactly these rows (never 0), so ClickHouse drops only a true re-send of the block."""
    tenants = "\x00".join(rows.column("tenant_id").to_pylist())
    ids = "\x00".join(rows.column("event_id").to_pylist())
    digest = hashlib.blake2b(f"{tenants}\x01{ids}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def one_block(rows: pa.Table) -> pa.Table:
    """The rows as one Arrow record batch: ClickHouse derives a block id per batch it reads, so a repeat matches
    the original only if both arrive as one."""
    return rows.combine_chunks()


def insert_token(block: int) -> dict[str, str]:
    return {"insert_deduplication_token": f"ota-{block:016x}"}


def _offset_spans(rows: pa.Table) -> dict[int, tuple[int, int]]:
    """partition -> (first, last) offset of the batch's rows from it."""
    spans = rows.group_by("kafka_partition").aggregate([("kafka_offset", "min"), ("kafka_offset", "max")])
    return {
        p: (lo, hi)
        for p, lo, hi in zip(
            spans.column("kafka_partition").to_pylist(),
            spans.column("kafka_offset_min").to_pylist(),
            spans.column("kafka_offset_max").to_pylist(),
            strict=True,
        )
    }
