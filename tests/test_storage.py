"""Migrations and the exactly-once writer, on real embedded ClickHouse (chDB).

chDB allows one data folder per process, so the session shares one folder and each test gets a database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from ota_stream.retry import Backoff
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.events_table import TABLE
from ota_stream.storage.migrations import MigrationError, discover, migrate
from ota_stream.storage.writer import INSERT_SETTINGS, EventWriter, block_id, insert_token
from tests.conftest import drop_database, open_database
from tests.support.rows import rows


def events(n: int, tenant: str = "acme", **extra: str) -> list[dict[str, str]]:
    now = datetime.now(UTC)
    return [
        {
            "tenant_id": tenant,
            "org_id": "o",
            "app_id": "a",
            "device_id": f"d{i}",
            "event_type": "update_installed",
            "timestamp": (now - timedelta(minutes=i)).isoformat(),
            "event_id": f"e{i}",
            "target_version": "2.0",
            **extra,
        }
        for i in range(n)
    ]


def sourced(n: int, tenant: str = "acme", offset: int = 0, per_message: int = 1) -> pa.Table:
    """n events at consecutive positions from `offset` (one per message unless `per_message` says more)."""
    return rows(events(n, tenant), offset=offset, per_message=per_message)


def count(ch: ClickHouse) -> int:
    return ch.query_rows(f"SELECT count() FROM {TABLE}")[0][0]


def test_migrations_apply_once_and_are_recorded(ch: ClickHouse) -> None:
    assert migrate(ch, retention_days=365) == []
    recorded = ch.query_rows("SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in discover()]
    ttl = ch.query_rows(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        {"t": TABLE},
    )[0][0]
    assert "toIntervalDay(365)" in ttl


def test_a_failed_migration_drops_what_it_created(ch: ClickHouse, tmp_path: Path) -> None:
    for migration in discover():
        (tmp_path / f"{migration.version:03d}_{migration.name}.sql").write_text(migration.sql)
    (tmp_path / "900_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS half_done (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS half_done_mv TO half_done AS SELECT 1 AS x FROM ota_events_raw;\n"
        "SELECT no_such_function();\n"
    )
    with pytest.raises(MigrationError, match="900_broken"):
        migrate(ch, retention_days=365, directory=tmp_path)
    tables = {
        row[0] for row in ch.query_rows("SELECT name FROM system.tables WHERE database = currentDatabase()")
    }
    assert "half_done" not in tables and "half_done_mv" not in tables
    assert 900 not in {row[0] for row in ch.query_rows("SELECT version FROM schema_migrations")}


def test_writer_drops_duplicates_within_and_across_batches(ch: ClickHouse) -> None:
    writer = EventWriter(ch)
    first = rows(events(5) + events(2), per_message=3)  # a client retry inside one batch, across envelopes
    result = asyncio.run(writer.write(first))
    assert (result.inserted, result.duplicates) == (5, 2)
    assert result.originals.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]
    # The same keys again at later positions (a client retry) and a redelivery of the first batch.
    again = asyncio.run(writer.write(sourced(7, offset=100)))
    assert (again.inserted, again.duplicates) == (2, 5)
    assert again.originals.column("event_id").to_pylist() == ["e5", "e6"]
    redelivered = asyncio.run(writer.write(first))
    assert redelivered.inserted == 0
    # A redelivery finds its own rows at their positions: they are originals (for the live windows) again.
    assert redelivered.originals.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]
    assert count(ch) == 7


def test_positions_name_one_event_of_an_envelope(ch: ClickHouse) -> None:
    asyncio.run(EventWriter(ch).write(sourced(7, offset=40, per_message=3)))
    stored = ch.query_rows(f"SELECT event_id, kafka_offset, kafka_index FROM {TABLE} ORDER BY event_id")
    assert stored == [(f"e{i}", 40 + i // 3, i % 3) for i in range(7)]


def test_ids_with_any_characters_are_looked_up_exactly(ch: ClickHouse) -> None:
    """The batch's ids reach ClickHouse as one JSON parameter, escaped in one pass: every id must survive."""
    odd = ["it's", "back\\slash", "tab\there", "new\nline", "`tick`", '"quoted"', "ünïcödé ✓", "{x:String}"]
    batch = [{**e, "event_id": odd[i]} for i, e in enumerate(events(len(odd)))]
    writer = EventWriter(ch)
    assert asyncio.run(writer.write(rows(batch))).inserted == len(odd)
    again = asyncio.run(writer.write(rows(batch, offset=50)))
    assert (again.inserted, again.duplicates) == (0, len(odd))
    assert sorted(row[0] for row in ch.query_rows(f"SELECT event_id FROM {TABLE}")) == sorted(odd)


def test_same_event_id_in_two_tenants_is_two_events(ch: ClickHouse) -> None:
    writer = EventWriter(ch)
    asyncio.run(writer.write(rows(events(3, tenant="acme") + events(3, tenant="globex"))))
    assert count(ch) == 6


def test_a_resent_block_is_deduplicated_by_its_token(ch: ClickHouse) -> None:
    """An insert that succeeded but whose answer was lost is retried with the same token: no double."""
    block = sourced(4)
    settings = {**INSERT_SETTINGS, **insert_token(block_id(block))}
    ch.insert_arrow_sync(TABLE, block, settings)
    ch.insert_arrow_sync(TABLE, block, settings)
    assert count(ch) == 4


def test_failed_writes_are_retried_until_they_succeed(ch: ClickHouse) -> None:
    failures: list[int] = []
    real_insert = ch.insert_arrow

    async def flaky_insert(*args: object, **kwargs: object) -> None:
        if len(failures) < 3:
            failures.append(1)
            raise ConnectionError("injected")
        await real_insert(*args, **kwargs)  # type: ignore[arg-type]

    ch.insert_arrow = flaky_insert  # type: ignore[method-assign]
    retries: list[int] = []
    writer = EventWriter(ch, Backoff(initial=0.01, maximum=0.02), on_retry=lambda exc, n: retries.append(n))
    result = asyncio.run(writer.write(sourced(3)))
    # A fresh writer's look for interrupted inserts, the duplicate lookup, then four tries of the insert.
    assert (result.inserted, result.attempts, retries) == (3, 6, [1, 2, 3])
    assert count(ch) == 3


def test_the_key_index_covers_rows_written_before_it(tmp_path: Path) -> None:
    """Rows already in the raw table when migration 004 runs are backfilled into event_keys, so the writer still
    sees them as duplicates; new rows reach the index through its view."""
    raw_only = next(m for m in discover() if m.name == "events_raw")
    (tmp_path / f"{raw_only.version:03d}_{raw_only.name}.sql").write_text(raw_only.sql)
    ch = open_database(tmp_path)
    try:
        old = sourced(6)
        ch.insert_arrow_sync(
            TABLE, old.drop_columns(["kafka_index", "launch_duration_seconds"]), INSERT_SETTINGS
        )
        migrate(ch, retention_days=365)
        assert ch.query_rows("SELECT count() FROM event_keys")[0][0] == 6
        writer = EventWriter(ch)
        result = asyncio.run(writer.write(sourced(9, offset=50)))
        assert (result.inserted, result.duplicates) == (3, 6)
        assert ch.query_rows("SELECT count() FROM event_keys")[0][0] == 9
        assert count(ch) == 9
    finally:
        drop_database(ch)


def test_rows_clickhouse_refuses_are_split_out_and_the_rest_written(ch: ClickHouse) -> None:
    """A value the server will not take (here a constraint an operator added) costs only its own rows."""
    ch.command_sync(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT no_test_devices CHECK NOT startsWith(device_id, 'bad')"
    )
    batch = events(10)
    for i in (3, 8):
        batch[i]["device_id"] = f"bad-{i}"
    retries: list[int] = []
    writer = EventWriter(ch, Backoff(initial=0.01, maximum=0.02), on_retry=lambda exc, n: retries.append(n))
    result = asyncio.run(writer.write(rows(batch, per_message=4)))
    assert (result.inserted, result.duplicates) == (8, 0)
    assert [(row, "VIOLATED_CONSTRAINT" in reason) for row, reason in result.refused] == [
        (3, True),
        (8, True),
    ]
    assert retries == []  # refused rows are not retried
    assert sorted(result.originals.column("event_id").to_pylist()) == sorted(
        f"e{i}" for i in range(10) if i not in (3, 8)
    )
    assert count(ch) == 8
