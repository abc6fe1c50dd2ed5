"""Ordered SQL migrations from `schema/NNN_name.sql`, applied once each and recorded in `schema_migrations`.

Statements are written to be idempotent (IF NOT EXISTS), so a migration interrupted half-way is simply applied
again. The only template value is `{retention_days}`, an integer from validated settings, never user input.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ota_stream.storage.client import ClickHouse

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
MIGRATIONS_TABLE = "schema_migrations"


class MigrationError(RuntimeError):
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


def applied_versions(ch: ClickHouse) -> set[int]:
    ch.command_sync(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    return {row[0] for row in ch.query_rows(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE}")}


def migrate(ch: ClickHouse, retention_days: int, directory: Path | None = None) -> list[Migration]:
    """Apply every migration not yet recorded, in order. Returns the ones applied now (blocking)."""
    done = applied_versions(ch)
    applied: list[Migration] = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        log.info("applying migration %03d_%s", migration.version, migration.name)
        for statement in migration.statements(retention_days):
            try:
                ch.command_sync(statement)
            except Exception as exc:
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
