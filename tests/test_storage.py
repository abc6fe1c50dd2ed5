"""Migrations and the exactly-once writer, on real embedded ClickHouse (chDB).

chDB allows one data folder per process, so the session shares one folder and each test gets a database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ota_stream.models import TimeWindow, parse_event
from ota_stream.retry import Backoff
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.events_table import COLUMNS, TABLE, SourcedEvent, to_row
from ota_stream.storage.migrations import MigrationError, discover, migrate
from ota_stream.storage.writer import INSERT_SETTINGS, EventWriter, dedup_token
from tests.conftest import drop_database, open_database


def sourced(n: int, tenant: str = "acme", offset: int = 0, **extra: str) -> list[SourcedEvent]:
    now = datetime.now(UTC)
    window = TimeWindow(365).bounds()
    items = []
    for i in range(n):
        event = parse_event(
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
            },
            window,
        )
        items.append(SourcedEvent(event, partition=0, offset=offset + i))
    return items


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
    first = sourced(5)
    result = asyncio.run(writer.write(first + first[:2]))
    assert (result.inserted, result.duplicates) == (5, 2)
    # The same keys again at later offsets (a client retry) and a redelivery of the first batch.
    again = asyncio.run(writer.write(sourced(7, offset=100)))
    assert (again.inserted, again.duplicates) == (2, 5)
    assert asyncio.run(writer.write(first)).inserted == 0
    assert count(ch) == 7


def test_same_event_id_in_two_tenants_is_two_events(ch: ClickHouse) -> None:
    writer = EventWriter(ch)
    asyncio.run(writer.write(sourced(3, tenant="acme") + sourced(3, tenant="globex")))
    assert count(ch) == 6


def test_a_resent_block_is_deduplicated_by_its_token(ch: ClickHouse) -> None:
    """An insert that succeeded but whose answer was lost is retried with the same token: no double."""
    items = sourced(4)
    settings = {**INSERT_SETTINGS, "insert_deduplication_token": dedup_token(items)}
    rows = [to_row(i) for i in items]
    ch.insert_sync(TABLE, rows, COLUMNS, settings)
    ch.insert_sync(TABLE, rows, COLUMNS, settings)
    assert count(ch) == 4


def test_failed_writes_are_retried_until_they_succeed(ch: ClickHouse) -> None:
    failures = []
    real_insert = ch.insert

    async def flaky_insert(*args: object, **kwargs: object) -> None:
        if len(failures) < 3:
            failures.append(1)
            raise ConnectionError("injected")
        await real_insert(*args, **kwargs)  # type: ignore[arg-type]

    ch.insert = flaky_insert  # type: ignore[method-assign]
    retries: list[int] = []
    writer = EventWriter(ch, Backoff(initial=0.01, maximum=0.02), on_retry=lambda exc, n: retries.append(n))
    result = asyncio.run(writer.write(sourced(3)))
    assert (result.inserted, result.attempts, retries) == (3, 5, [1, 2, 3])
    assert count(ch) == 3


def test_the_key_index_covers_rows_written_before_it(tmp_path: Path) -> None:
    """Rows already in the raw table when migration 004 runs are backfilled into event_keys, so the writer still
    sees them as duplicates; new rows reach the index through its view."""
    raw_only = next(m for m in discover() if m.name == "events_raw")
    (tmp_path / f"{raw_only.version:03d}_{raw_only.name}.sql").write_text(raw_only.sql)
    ch = open_database(tmp_path)
    try:
        old = sourced(6)
        ch.insert_sync(TABLE, [to_row(i) for i in old], COLUMNS, INSERT_SETTINGS)
        migrate(ch, retention_days=365)
        assert ch.query_rows("SELECT count() FROM event_keys")[0][0] == 6
        writer = EventWriter(ch)
        result = asyncio.run(writer.write(old + sourced(9, offset=50)[6:]))
        assert (result.inserted, result.duplicates) == (3, 6)
        assert ch.query_rows("SELECT count() FROM event_keys")[0][0] == 9
        assert count(ch) == 9
    finally:
        drop_database(ch)
