"""A worker killed inside an insert: the raw table has the rows, the views do not, the offsets were not committed.

ClickHouse commits an insert to the raw table before its materialized views. A view that throws while a flag table
has a row stands in for the kill: the insert fails after the raw table committed it and before any view did, which
is the state a kill -9 at that moment leaves (tests/test_faults.py kills real workers at random moments). A new
writer then reads the uncommitted offsets again, cut into other batches than the first time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pyarrow as pa
import pytest

from ota_stream.retry import Backoff
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.events_table import TABLE
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.writer import EventWriter
from tests.support.expected import unique
from tests.support.loaded import NOW
from tests.support.rows import rows
from tests.support.scenario import Event, Scenario
from tests.support.three_ways import check

PER_MESSAGE = 25


class Killed(Exception):
    """The writer's process ends at its first retry."""


def die(exc: Exception, attempt: int) -> None:
    raise Killed from exc


def messages(events: list[Event], partition: int, offset: int, count: int) -> pa.Table:
    """The rows of messages offset .. offset + count - 1 of a partition that holds `events`."""
    chunk = events[offset * PER_MESSAGE : (offset + count) * PER_MESSAGE]
    return rows(chunk, partition=partition, offset=offset, per_message=PER_MESSAGE, now=NOW)


def count(ch: ClickHouse, table: str) -> int:
    return int(ch.query_rows(f"SELECT count() FROM {table}")[0][0])


def test_an_insert_cut_between_the_raw_table_and_its_views_is_completed_once(ch: ClickHouse) -> None:
    events = Scenario(now=NOW, devices_per_app=6, seed=5).build()
    for i, event in enumerate(events):
        event["event_id"] = f"e{i}"
    half = len(events) // 2
    partitions = {0: events[:half], 1: events[half:]}
    length = {p: -(-len(evs) // PER_MESSAGE) for p, evs in partitions.items()}

    # The first worker writes a batch in full, then is killed inside the insert of the next one.
    first = EventWriter(ch, Backoff(initial=0.01, maximum=0.01), on_retry=die)
    asyncio.run(first.write(messages(partitions[0], 0, 0, 4)))
    ch.command_sync("CREATE TABLE crash_flag (x UInt8) ENGINE = MergeTree ORDER BY x")
    ch.command_sync("CREATE TABLE crash_sink (x UInt8) ENGINE = Null")
    ch.command_sync(
        "CREATE MATERIALIZED VIEW crash_mv TO crash_sink AS "
        f"SELECT throwIf((SELECT count() FROM crash_flag) > 0, 'killed') AS x FROM {TABLE}"
    )
    ch.command_sync("INSERT INTO crash_flag VALUES (1)")
    cut = pa.concat_tables([messages(partitions[0], 0, 4, 3), messages(partitions[1], 1, 0, 5)])
    with pytest.raises(Killed):
        asyncio.run(first.write(cut))
    written = 4 * PER_MESSAGE + cut.num_rows
    # The state a kill leaves: the raw table has both batches, and the views whatever ClickHouse pushed before the
    # throw. Which views that is depends on the order ClickHouse runs a table's views in, which it does not define
    # (seen here: the key index had none of the second batch, part of it, or, in one fresh-clone CI run, all of it).
    # Whatever the views hold, the repair below must leave every figure exact and no event counted twice.
    assert count(ch, TABLE) == written >= count(ch, "event_keys")
    ch.command_sync("TRUNCATE TABLE crash_flag")

    # Nothing was committed: a new worker reads both partitions from their start, in batches cut elsewhere.
    second = EventWriter(ch)
    read = {0: 0, 1: 0}
    for partition, batch in ((0, 3), (1, 2), (0, 5), (1, 4), (0, 1000), (1, 1000)):
        batch = min(batch, length[partition] - read[partition])
        asyncio.run(second.write(messages(partitions[partition], partition, read[partition], batch)))
        read[partition] += batch
    assert read == length
    assert count(ch, TABLE) == count(ch, "event_keys") == len(unique(events)) == len(events)
    duplicates = ch.query_rows(
        f"SELECT count() FROM (SELECT kafka_partition, kafka_offset, kafka_index FROM {TABLE} "
        "GROUP BY ALL HAVING count() > 1)"
    )
    assert duplicates == [(0,)]
    for tenant in ("acme", "globex"):
        check(ch, events, QueryScope(tenant, NOW - timedelta(days=60), NOW + timedelta(hours=1)))
