"""Live windows of every app in a changelogged RocksDB table (rocksdict driver).

Keys are `(app_key, window_start)`; values are `windows.Window`. Each batch is aggregated in memory first and
touches the table once per app and window.

Why not Faust's `.tumbling(expires=...)` wrapper: its expiry keeps in-memory heaps that are filled when a key is
set and never rebuilt on recovery, so windows recovered from the changelog never expire (faust-streaming #385),
and its writes need one event in context per key. Keying windows explicitly, and expiring them by a sweep that
writes changelog tombstones, keeps expiry and recovery in our hands, with tests for both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import pyarrow as pa
import pyarrow.compute as pc

from ota_stream.kafka.table_state import at_partition, send_change
from ota_stream.models import format_timestamp
from ota_stream.tables import devices, windows
from ota_stream.tables.store import store_options

log = logging.getLogger(__name__)
TABLE_NAME = "live-windows"
_LIVE_COLUMNS = (
    "tenant_id", "org_id", "app_id", "kafka_partition", "kafka_offset", "kafka_index",
    "event_type", "target_version", "error_code", "device_id",
)  # fmt: skip


def _iso(seconds: float) -> str:
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))


class LiveWindows:
    def __init__(
        self,
        app: faust.App,
        size: int,
        retention: int,
        partitions: int,
        topic_configs: Mapping[str, str] | None = None,
        store: Mapping[str, Any] | None = None,
    ) -> None:
        """`store`: the tables' RocksDB options (tables/store.py), bounded by default."""
        self.size = size
        self.retention = retention
        self.max_last = max(1, retention // size + 1)  # the most windows `?last=` can ask for: all retained
        # The changelog's min.insync.replicas (kafka/replication.py), and a segment rolled every hour or retention:
        # compaction only cleans rolled segments, and a takeover reads the partition from its start
        # (kafka/recovery.py), so the segment bounds that read to about one retention of writes.
        self.table = app.Table(
            TABLE_NAME,
            default=None,
            partitions=partitions,  # keys and values are JSON: Faust's default without a Record type
            options=dict(store or store_options()),
            extra_topic_configs={**(topic_configs or {}), "segment.ms": str(max(retention, 3600) * 1000)},
            help="Live tumbling windows per app (docs/api.md#live-windows).",
        )

    def oldest_start(self, now: float) -> int:
        """Windows that end before now - retention are expired."""
        return windows.window_start(now - self.retention, self.size)

    async def update(self, rows: pa.Table, now: float | None = None) -> int:
        """Apply a batch of original rows (in position order); returns how many windows were written.

        Each window goes to RocksDB, in the database of its rows' partition, and to the changelog, and this returns
        only when the changelog has acknowledged every write, before the source batch is acked. Writing through
        `Table.__setitem__` instead queues changelog messages in Faust's producer buffer, and with hundreds of
        windows per batch that buffer overflows into Faust's flow control, where we saw source messages get
        committed without reaching this agent (a two-worker test caught it).
        """
        oldest = self.oldest_start(time.time() if now is None else now)
        groups: dict[tuple[str, int], tuple[int, list[windows.LiveRow]]] = {}
        for app_key, start, partition, row in self._rows(rows):
            if start >= oldest:  # a late event for an expired window is in ClickHouse only
                groups.setdefault((app_key, start), (partition, []))[1].append(row)
        sent = []
        for (app_key, start), (partition, group) in groups.items():
            with at_partition(partition):
                current = self.table.data.get((app_key, start)) or windows.empty(partition)
                updated = windows.apply(current, group)
                if updated is None:
                    continue
                self.table.data[(app_key, start)] = updated
            sent.append(await send_change(self.table, (app_key, start), updated, partition))
        await asyncio.gather(*sent)
        return len(sent)

    def _rows(self, rows: pa.Table) -> Iterator[tuple[str, int, int, windows.LiveRow]]:
        """(app key, window start, partition, row) per row, from the batch's columns."""
        size_ms = self.size * 1000
        millis = pc.cast(rows.column("timestamp"), pa.int64()).to_pylist()
        columns = [rows.column(name).to_pylist() for name in _LIVE_COLUMNS]
        for ms, tenant, org, app, partition, offset, index, event_type, version, error, device in zip(
            millis, *columns, strict=True
        ):
            start = ms // size_ms * self.size
            row = windows.LiveRow(offset, index, event_type, version, error, device)
            yield f"{tenant}/{org}/{app}", start, partition, row

    def recent(self, app_key: str, last: int, now: float | None = None) -> list[dict[str, Any]]:
        """Up to `last` windows with data, newest first, from the window containing now."""
        now = time.time() if now is None else now
        found: list[dict[str, Any]] = []
        start = windows.window_start(now, self.size)
        oldest = self.oldest_start(now)
        while start >= oldest and len(found) < last:
            window = self.table.get((app_key, start))
            if window is not None:
                found.append(self.render(start, window))
            start -= self.size
        return found

    def current(self, app_key: str, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        start = windows.window_start(now, self.size)
        return self.render(start, self.table.get((app_key, start)) or windows.empty(-1))

    def render(self, start: int, window: windows.Window) -> dict[str, Any]:
        return {
            "start": _iso(start),
            "end": _iso(start + self.size),
            "counts": window["counts"],
            "installs_by_version": window["installs_by_version"],
            "failures_by_error": window["failures_by_error"],
            "active_devices": devices.count(window["devices"]),
        }

    def stored(self) -> int:
        """Windows held in this worker's RocksDB, standby copies included: expiry must bring it down."""
        return sum(1 for _ in self.table.data)

    async def expire(self, active_partitions: set[int], now: float | None = None) -> int:
        """Delete expired windows of the partitions this worker owns, with a changelog tombstone for each.

        Standby copies of other workers' partitions are left to the changelog: their owners tombstone them.
        """
        oldest = self.oldest_start(time.time() if now is None else now)
        expired = [
            (key, value)
            for key, value in self.table.data.items()
            if key[1] < oldest and value["partition"] in active_partitions
        ]
        sent = []
        for key, value in expired:
            del self.table.data[key]
            sent.append(await send_change(self.table, (key[0], key[1]), None, value["partition"]))
        await asyncio.gather(*sent)
        if expired:
            log.info("expired %d live windows", len(expired))
        return len(expired)
