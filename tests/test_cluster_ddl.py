"""The cluster rendering of every migration (storage/ddl.py): golden files, ClickHouse's parser, and the rules.

No ClickHouse cluster runs here, so the cluster form is proven on paper: each rendered statement must equal its
golden file in tests/golden/cluster/, parse with ClickHouse's own parser (chDB's `formatQuery`), and follow the
rules checked below on the parsed text. Every file in schema/ is covered, so a new migration fails here until
its golden file exists. After a change to schema/ or ddl.py, regenerate the goldens and review the diff:

    make golden        # or: UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_cluster_ddl.py -k golden

The one-node rendering is what the rest of the suite applies to chDB (every analytics test runs on it); here it
is checked to be the migration's statements unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ota_stream.config import ClickHouseSettings
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.ddl import APP_KEY, SHARDING, Renderer, RenderError, Step, created_tables
from ota_stream.storage.migrations import Migration, discover, since
from tests.conftest import drop_database, open_database

GOLDEN = Path(__file__).parent / "golden" / "cluster"
CLUSTER = "ota_cluster"
RETENTION = 365
CUTOFF = "2026-01-01 00:00:00.000"
MIGRATIONS = discover()
TABLES = created_tables(s for m in MIGRATIONS for s in m.statements(RETENTION))


def cluster_steps(migration: Migration) -> list[Step]:
    return Renderer(CLUSTER, TABLES).render(migration.statements(RETENTION))


def golden_text(steps: list[Step]) -> str:
    """The file form: each statement, its settings (if any) as a comment above it, `;` and a blank line."""
    parts = []
    for step in steps:
        settings = "".join(f"-- SETTINGS {k} = {v!r}\n" for k, v in sorted((step.settings or {}).items()))
        parts.append(f"{settings}{step.sql};\n")
    return "\n".join(parts)


def runnable(step: Step) -> str:
    """The statement as the runner sends it: `{since_cutoff}` filled in."""
    return since(step.sql, "<" if step.backfill else ">=", CUTOFF)


@pytest.fixture(scope="module")
def parser() -> Iterator[ClickHouse]:
    client = open_database()
    yield client
    drop_database(client)


def parsed(parser: ClickHouse, sql: str) -> str:
    """ClickHouse's own canonical text of `sql`; raises for a syntax error. The statement travels as a parameter."""
    return str(parser.query_rows("SELECT formatQuery({q:String})", {"q": sql})[0][0])


def ids(migrations: list[Migration]) -> list[str]:
    return [f"{m.version:03d}_{m.name}" for m in migrations]


@pytest.mark.parametrize("migration", MIGRATIONS, ids=ids(MIGRATIONS))
def test_cluster_rendering_matches_golden(migration: Migration) -> None:
    path = GOLDEN / f"{migration.version:03d}_{migration.name}.sql"
    text = golden_text(cluster_steps(migration))
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run `make golden` and review it"
    assert text == path.read_text(), (
        f"{path.name} differs from the rendering: `make golden`, then review the diff"
    )


def test_no_golden_file_without_its_migration() -> None:
    expected = {f"{m.version:03d}_{m.name}.sql" for m in MIGRATIONS}
    assert {p.name for p in GOLDEN.glob("*.sql")} == expected


@pytest.mark.parametrize("migration", MIGRATIONS, ids=ids(MIGRATIONS))
def test_every_statement_parses_with_clickhouse(parser: ClickHouse, migration: Migration) -> None:
    for step in [*cluster_steps(migration), *Renderer("", TABLES).render(migration.statements(RETENTION))]:
        assert parsed(parser, runnable(step))


def test_parser_refuses_a_broken_statement(parser: ClickHouse) -> None:
    """The parse check can fail: a statement ClickHouse cannot read raises."""
    with pytest.raises(Exception, match=r"SYNTAX_ERROR|Syntax error"):
        parsed(parser, "CREATE TABLE t ON CLUSTER c (a UInt8) ENGINE = ReplicatedMergeTree(")


@pytest.mark.parametrize("migration", MIGRATIONS, ids=ids(MIGRATIONS))
def test_cluster_statements_follow_the_rules(parser: ClickHouse, migration: Migration) -> None:
    """On ClickHouse's canonical text: every DDL runs ON CLUSTER; data lives in Replicated tables with {shard} and
    {replica}; each has a Distributed table over it sharded by the app key (or its SHARDING entry); views read and
    write local tables; backfills insert shard by shard."""
    for step in cluster_steps(migration):
        text = parsed(parser, runnable(step))
        if step.backfill:
            assert text.startswith("INSERT INTO ") and step.settings
            assert step.settings["parallel_distributed_insert_select"] == 2
            assert not re.search(r"\b\w+_local\b", text), "a backfill goes through the Distributed tables"
            continue
        assert f"ON CLUSTER {CLUSTER}" in text.splitlines()[0], text
        table = re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER", text)
        if table and table.group(1).endswith("_local"):
            local = table.group(1)
            engine = re.search(r"ENGINE = Replicated\w*MergeTree\('([^']*)', '\{replica\}'", text)
            assert engine, text
            assert engine.group(1) == f"/clickhouse/tables/{{shard}}/{{database}}/{local}"
            assert "non_replicated_deduplication_window" not in text
        elif table:
            name = table.group(1)
            key = SHARDING.get(name, APP_KEY)
            expected = (
                f"ENGINE = Distributed({CLUSTER}, currentDatabase(), {name}_local{', ' + key if key else ''})"
            )
            assert f"AS {name}_local\n{expected}" in text, text
        view = re.match(r"CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ ON CLUSTER \w+ TO (\w+)", text)
        if view:
            assert view.group(1).endswith("_local")
            sources = re.findall(r"\bFROM (\w+)", text)
            assert sources and all(s.endswith("_local") for s in sources if s in TABLES or s[:-6] in TABLES)


def test_every_table_but_the_listed_ones_is_sharded_by_app() -> None:
    for migration in MIGRATIONS:
        for step in cluster_steps(migration):
            distributed = re.search(
                r"Distributed\(\w+, currentDatabase\(\), (\w+)_local(?:, (.*))?\)$", step.sql
            )
            if distributed:
                assert distributed.group(2) == SHARDING.get(distributed.group(1), APP_KEY)


def test_one_node_rendering_is_the_migration_as_written() -> None:
    for migration in MIGRATIONS:
        statements = migration.statements(RETENTION)
        steps = Renderer("", TABLES).render(statements)
        plain = [s for s in statements if not s.upper().startswith("BACKFILL")]
        assert [s.sql for s in steps if not s.backfill] == plain
        for step in steps:
            assert step.settings is None if not step.backfill else step.settings == {"insert_deduplicate": 0}


def test_a_statement_without_a_cluster_form_is_refused() -> None:
    renderer = Renderer(CLUSTER, TABLES)
    with pytest.raises(RenderError, match="no cluster form"):
        renderer.render(["DROP TABLE ota_events_raw"])
    with pytest.raises(RenderError, match="only \\*MergeTree"):
        renderer.render(["CREATE TABLE IF NOT EXISTS t (tenant_id String) ENGINE = Memory"])
    with pytest.raises(RenderError, match="no app key"):
        renderer.render(["CREATE TABLE IF NOT EXISTS t (\n    x String\n) ENGINE = MergeTree ORDER BY x"])


def test_codec_changes_touch_only_local_tables_and_new_columns_both() -> None:
    renderer = Renderer(CLUSTER, TABLES)
    codec = renderer.render(["ALTER TABLE device_latest MODIFY COLUMN latest CODEC(ZSTD(3))"])
    assert [s.sql for s in codec] == [
        f"ALTER TABLE device_latest_local ON CLUSTER {CLUSTER} MODIFY COLUMN latest CODEC(ZSTD(3))"
    ]
    added = renderer.render(
        ["ALTER TABLE ota_events_raw ADD COLUMN x UInt32 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER y"]
    )
    assert [s.sql for s in added] == [
        f"ALTER TABLE ota_events_raw_local ON CLUSTER {CLUSTER} "
        "ADD COLUMN x UInt32 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER y",
        f"ALTER TABLE ota_events_raw ON CLUSTER {CLUSTER} ADD COLUMN x UInt32 DEFAULT 0 AFTER y",
    ]


def test_migrations_table_is_one_replicated_table_on_a_cluster(parser: ClickHouse) -> None:
    text = parsed(parser, Renderer(CLUSTER).migrations_table("schema_migrations"))
    assert "ON CLUSTER ota_cluster" in text
    assert "ReplicatedMergeTree('/clickhouse/tables/{database}/schema_migrations', '{replica}')" in text
    assert Renderer("").migrations_table("schema_migrations").endswith("ENGINE = MergeTree ORDER BY version")


def test_cluster_setting_needs_a_server() -> None:
    with pytest.raises(ValueError, match="needs CLICKHOUSE_URL of a ClickHouse server"):
        ClickHouseSettings(cluster="ota")
    with pytest.raises(ValueError, match="plain identifier"):
        ClickHouseSettings(url="http://ch:8123", cluster="ota; DROP")
    settings = ClickHouseSettings(url="http://ch:8123", cluster="ota")
    from ota_stream.storage.client import ClickHouseConfig

    config = ClickHouseConfig.from_settings(settings, Path("var"))
    assert config.cluster == "ota"
    assert config.client_kwargs()["settings"]["distributed_foreground_insert"] == 1
    assert "settings" not in ClickHouseConfig.from_settings(ClickHouseSettings(), Path("var")).client_kwargs()


def test_the_duplicate_check_reads_with_sequential_consistency_on_a_cluster() -> None:
    """On a cluster both lookups carry select_sequential_consistency; on one node they carry no settings."""
    import asyncio

    from ota_stream.storage.client import ClickHouseConfig
    from ota_stream.storage.writer import CLUSTER_LOOKUP_SETTINGS, EventWriter

    class Recording:
        def __init__(self, cluster: str) -> None:
            self.config = ClickHouseConfig("http://ch:8123", "analytics", cluster=cluster)
            self.settings: list[object] = []

        async def query(
            self, sql: str, parameters: object = None, settings: object = None
        ) -> list[tuple[str]]:
            self.settings.append(settings)
            return [("e1",)] if len(self.settings) == 1 else []  # a candidate: the second lookup runs

    for cluster, expected in (("ota", CLUSTER_LOOKUP_SETTINGS), ("", None)):
        recording = Recording(cluster)
        writer = EventWriter(recording)  # type: ignore[arg-type]
        asyncio.run(writer._existing_keys([("t", "e1")]))
        assert recording.settings == [expected, expected]
