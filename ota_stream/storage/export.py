"""The raw events of a window, read out of ClickHouse in blocks and never held whole in memory.

An export is a snapshot: it counts, then reads, the rows whose `ingested_at` is at most the server time when it
started, so the count that decides 413 is the number of rows sent (rows can only be added, never changed; a
row being inserted at that very moment is bounded by a LIMIT of the count). Rows come in the order of the raw
table's sorting key (org, app, timestamp, event type), which ClickHouse reads in order without sorting.

Each export reads on a connection of its own: a clickhouse-connect client holds a lock for as long as a
stream is open, and the sink and the other routes must not wait for a download.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import pyarrow as pa
import pyarrow.ipc

from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.export_sql import COUNT, LAYOUTS, ROWS, TYPE_FILTER
from ota_stream.storage.queries.event_rows import select_list
from ota_stream.storage.queries.scope import QueryScope

STREAM_READ_BYTES = 1 << 16


@dataclass(frozen=True)
class Snapshot:
    scope: QueryScope
    event_type: str | None
    cutoff: str  # server time, 'YYYY-MM-DD hh:mm:ss.sss'
    rows: int


async def snapshot(ch: ClickHouse, scope: QueryScope, event_type: str | None) -> Snapshot:
    [(cutoff,)] = await ch.query("SELECT toString(now64(3, 'UTC'))")
    sql, params = _sql(COUNT, scope, event_type, cutoff)
    [(rows,)] = await ch.query(sql, params)
    return Snapshot(scope, event_type, cutoff, rows)


def _sql(
    template: str, scope: QueryScope, event_type: str | None, cutoff: str, **parts: str
) -> tuple[str, dict[str, Any]]:
    where, params = scope.window()
    params["cutoff"] = cutoff
    if event_type is not None:
        params["event_type"] = event_type
    return template.format(where=where, type_filter=TYPE_FILTER if event_type else "", **parts), params


def rows_query(taken: Snapshot, fmt: str) -> tuple[str, dict[str, Any], str]:
    """(sql, parameters, ClickHouse format) that read the snapshot's rows for an export format."""
    layout = LAYOUTS[fmt]
    columns = select_list(layout.overrides)
    sql, params = _sql(
        ROWS, taken.scope, taken.event_type, taken.cutoff, columns=columns, settings=layout.settings
    )
    params["rows"] = taken.rows
    return sql, params, layout.clickhouse_format


class ExportReader:
    """Blocking reads of one export on a connection of its own; use from a single thread, then close()."""

    def __init__(self, config: ClickHouseConfig) -> None:
        self.config = config
        self._chdb: Any = None
        self._http: Any = None
        if config.embedded:
            import chdb  # type: ignore[import-untyped,unused-ignore]

            # The engine is already open in this process; this adds a handle to it, as clickhouse-connect does.
            self._chdb = chdb.connect(os.path.realpath(urlsplit(config.dsn).path))
            self._chdb.query(f"USE `{config.database}`", "TabSeparated")
        else:
            self._http = clickhouse_connect.get_client(**config.client_kwargs(), database=config.database)

    def chunks(self, sql: str, params: dict[str, Any], fmt: str) -> Iterator[bytes]:
        """The result's bytes, block by block. From chDB each block is complete in itself (for ArrowStream, a
        whole IPC stream); from a server the chunks are slices of one stream."""
        if self._chdb is not None:
            result = self._chdb.send_query(sql, fmt, params=params)
            try:
                for block in result:
                    data = block.bytes()
                    if data:
                        yield data
            finally:
                result.close()
            return
        stream = self._http.raw_stream(sql, parameters=params, fmt=fmt)
        try:
            while data := stream.read(STREAM_READ_BYTES):
                yield data
        finally:
            stream.close()

    def batches(self, sql: str, params: dict[str, Any]) -> Iterator[pa.RecordBatch]:
        """The result as Arrow record batches (ClickHouse's ArrowStream format)."""
        if self._chdb is not None:
            for data in self.chunks(sql, params, "ArrowStream"):
                yield from pyarrow.ipc.open_stream(data)
            return
        stream = self._http.raw_stream(sql, parameters=params, fmt="ArrowStream")
        try:
            yield from pyarrow.ipc.open_stream(stream)
        finally:
            stream.close()

    def close(self) -> None:
        if self._chdb is not None:
            self._chdb.close()
        if self._http is not None:
            self._http.close()
