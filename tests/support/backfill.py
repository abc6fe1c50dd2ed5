"""Views added to a database that already holds events: the events written before their migration are backfilled,
and the views take the ones written after it, so that both agree with the raw table and with plain Python."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.migrations import Migration, discover, migrate, schema_dir
from ota_stream.storage.queries.scope import QueryScope
from tests.conftest import drop_database, open_database
from tests.support.loaded import WINDOWS, release_events, write
from tests.support.scenario import Event

Check = Callable[[ClickHouse, list[Event], QueryScope], None]


def backfilled(
    directory: Path, later: Callable[[Migration], bool], check: Check, events: list[Event] | None = None
) -> list[Migration]:
    """Half of `events` (the release tests' by default) written with the migrations that `later` leaves out, then
    those migrations, then the other half; `check` over two scopes after each step. Returns the migrations applied
    later."""
    for migration in discover():
        if not later(migration):
            shutil.copy(schema_dir() / f"{migration.version:03d}_{migration.name}.sql", directory)
    ch = open_database(directory)
    try:
        events = release_events() if events is None else events
        old, new = events[: len(events) // 2], events[len(events) // 2 :]
        write(ch, old)
        applied = migrate(ch, retention_days=365)
        for sent in (old, events):
            if sent is events:
                write(ch, new)  # after the migration, the views take new rows as they come
            for scope in (
                QueryScope("acme", *WINDOWS["a year"]),
                QueryScope("globex", *WINDOWS["hours not days"], "web"),
            ):
                check(ch, sent, scope)
        return applied
    finally:
        drop_database(ch)
