"""Opening ClickHouse once per worker: connect, then apply pending migrations, before the first use."""

from __future__ import annotations

import asyncio
import logging

from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.errors import StorageUnavailable, is_unavailable
from ota_stream.storage.migrations import migrate

log = logging.getLogger(__name__)


class ClickHouseService:
    """Lazily opened, so that Faust commands that never touch ClickHouse never lock the chDB folder."""

    def __init__(self, config: ClickHouseConfig, retention_days: int) -> None:
        """`retention_days`: RETENTION_DAYS, the TTL that migrations write when they create a table."""
        self.retention_days = retention_days
        self.clickhouse = ClickHouse(config)
        self._lock = asyncio.Lock()
        self._opened = False
        self._opening: asyncio.Future[None] | None = None

    async def ready(self) -> ClickHouse:
        """The connected, migrated client; StorageUnavailable while the server cannot be reached.

        Opens once. A caller that gives up waiting (the health check's timeout) leaves the opening running, and the
        next caller waits for that one: a thread cannot be cancelled, and a second one would apply the same
        migrations, backfills included, at the same time (seen in worker logs before this was shielded)."""
        if not self._opened:
            async with self._lock:
                if self._opening is None or (self._opening.done() and self._opening.exception() is not None):
                    self._opening = asyncio.ensure_future(asyncio.to_thread(self._open))
                opening = self._opening
            try:
                await asyncio.shield(opening)
            except Exception as exc:
                if is_unavailable(exc):
                    raise StorageUnavailable(f"ClickHouse is unavailable: {exc}") from exc
                raise
            self._opened = True
        return self.clickhouse

    def _open(self) -> None:
        self.clickhouse.connect()
        applied = migrate(self.clickhouse, self.retention_days)
        log.info("ClickHouse ready at %s (%d migrations applied now)", self._where(), len(applied))

    def _where(self) -> str:
        return "embedded chDB" if self.clickhouse.config.embedded else "a ClickHouse server"

    def close(self) -> None:
        self.clickhouse.close()
        self._opened = False
        self._opening = None
