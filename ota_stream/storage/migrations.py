"""Ordered SQL migrations from `schema/NNN_name.sql`, applied once each and recorded in `schema_migrations`.

Template values come from settings and the server clock, never from user input:
- `{retention_days}`: RETENTION_DAYS.
- `{since_cutoff}`: `ingested_at >= <cutoff>` inside a materialized view, where <cutoff> is the server's time
  when the migration started.
- `BACKFILL <view>;` is not SQL: the runner inserts into the view's target what the view's SELECT gives for
  rows with `ingested_at < <cutoff>`. Unlike POPULATE, rows inserted while the migration runs are neither lost
  nor counted twice: each lands on exactly one side of the cutoff.

A migration that fails drops the objects it creates, so that running it again starts clean.

With CLICKHOUSE_CLUSTER set, each statement is rendered for the cluster first (storage/ddl.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ota_stream.errors import OtaStreamError
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.ddl import Renderer, RenderError, Step, created_tables

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_CREATE = re.compile(r"^CREATE\s+(TABLE|MATERIALIZED VIEW|VIEW)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)
MIGRATIONS_TABLE = "schema_migrations"


class MigrationError(OtaStreamError):
    """A migration file is malformed, or a statement of it failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, retention_days: int) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        text = text.replace("{retention_days}", str(int(retention_days)))
        return [part.strip() for part in re.split(r";\s*(?:\n|$)", text) if part.strip()]


def schema_dir() -> Path:
    """The installed copy inside the wheel, or the repository's `schema/` in a source checkout."""
    packaged = Path(str(resources.files("ota_stream"))) / "schema"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schema"


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or schema_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return found


def renderer(ch: ClickHouse, migrations: list[Migration], retention_days: int) -> Renderer:
    """The rendering for this client's topology, knowing every table the migrations create."""
    tables = created_tables(sql for m in migrations for sql in m.statements(retention_days))
    return Renderer(ch.config.cluster, tables)


def applied_versions(ch: ClickHouse) -> set[int]:
    ch.command_sync(Renderer(ch.config.cluster).migrations_table(MIGRATIONS_TABLE))
    return {row[0] for row in ch.query_rows(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE}")}


def migrate(ch: ClickHouse, retention_days: int, directory: Path | None = None) -> list[Migration]:
    """Apply every migration not yet recorded, in order. Returns the ones applied now (blocking)."""
    done = applied_versions(ch)
    migrations = discover(directory)
    rendering = renderer(ch, migrations, retention_days)
    applied: list[Migration] = []
    for migration in migrations:
        if migration.version in done:
            continue
        log.info("applying migration %03d_%s", migration.version, migration.name)
        try:
            steps = rendering.render(migration.statements(retention_days))
        except RenderError as exc:
            raise MigrationError(f"{migration.version:03d}_{migration.name}: {exc}") from exc
        try:
            _apply(ch, steps, cutoff=ch.query_rows("SELECT toString(now64(3, 'UTC'))")[0][0])
        except Exception as exc:
            _drop_created(ch, rendering, [step.sql for step in steps])
            raise MigrationError(f"{migration.version:03d}_{migration.name}: {exc}") from exc
        ch.insert_sync(
            MIGRATIONS_TABLE,
            [(migration.version, migration.name, migration.checksum)],
            ("version", "name", "checksum"),
            # Each record is its own block; never let hash deduplication drop one.
            settings={"insert_deduplication_token": f"migration-{migration.version}-{migration.checksum}"},
        )
        applied.append(migration)
    return applied


def _apply(ch: ClickHouse, steps: list[Step], cutoff: str) -> None:
    for step in steps:
        ch.command_sync(since(step.sql, "<" if step.backfill else ">=", cutoff), settings=step.settings)


def since(sql: str, operator: str, cutoff: str) -> str:
    return sql.replace("{since_cutoff}", f"ingested_at {operator} toDateTime64('{cutoff}', 3, 'UTC')")


def _drop_created(ch: ClickHouse, rendering: Renderer, statements: list[str]) -> None:
    """Undo a failed migration: drop what it creates, views before the tables they write to."""
    created = [(m.group(1).upper(), m.group(2)) for m in map(_CREATE.match, statements) if m]
    for kind, name in sorted(created, key=lambda item: item[0] == "TABLE"):
        try:
            ch.command_sync(rendering.drop(kind, name))
        except Exception:
            log.exception("could not drop %s after a failed migration", name)
