"""`GET /analytics/export?format=ndjson|csv|parquet` (docs/api.md#get-analyticsexport): the window's raw events,
streamed in chunks.

Memory stays flat however large the export: ClickHouse reads blocks, each block is encoded and written to the
socket before the next is read (aiohttp waits for the client to drain), and Parquet buffers one row group of
PARQUET_ROW_GROUP_ROWS rows at most. Reading runs on a thread of the export's own, so the event loop (ingest,
health, other queries) carries on; a client that disconnects stops the read.

Headers are sent once the row count is known, so an error in the middle of the stream cannot change the status:
the connection is then closed without the final chunk, which clients report as a truncated download.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
from aiohttp import web

from ota_stream import logs, metrics
from ota_stream.storage.export import ExportReader, Snapshot, rows_query, snapshot
from ota_stream.storage.queries.event_rows import NAMES
from ota_stream.storage.service import ClickHouseService
from ota_stream.web import routes
from ota_stream.web.declare import bind, given
from ota_stream.web.errors import ApiError

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
PARQUET_ROW_GROUP_ROWS = 16_384


class _Sink:
    """A write-only file for ParquetWriter whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def parquet_chunks(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    sink, writer, pending, held = _Sink(), None, [], 0
    for batch in batches:
        if writer is None:
            writer = pq.ParquetWriter(sink, batch.schema, compression="zstd")
        pending.append(batch)
        held += batch.num_rows
        if held >= PARQUET_ROW_GROUP_ROWS:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=held)
            pending, held = [], 0
            pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed memory otherwise
            yield sink.take()
    if writer is None:  # no rows: an empty file with the columns' names
        writer = pq.ParquetWriter(sink, pa.schema([(name, pa.null()) for name in NAMES]))
    if pending:
        writer.write_table(pa.Table.from_batches(pending), row_group_size=held)
    writer.close()
    yield sink.take()


def encoded(reader: ExportReader, taken: Snapshot, fmt: str) -> Generator[bytes, None, None]:
    """The export's bytes in the order they are sent (blocking)."""
    sql, query_params, clickhouse_format = rows_query(taken, fmt)
    if fmt == "parquet":
        yield from parquet_chunks(reader.batches(sql, query_params))
        return
    if fmt == "csv":
        yield (",".join(NAMES) + "\n").encode()
    if taken.rows:
        yield from reader.chunks(sql, query_params, clickhouse_format)


def filename(taken: Snapshot, fmt: str) -> str:
    scope = taken.scope
    span = f"{scope.start:%Y%m%dT%H%M%SZ}-{scope.end:%Y%m%dT%H%M%SZ}"
    return f"ota-events-{scope.tenant_id}-{span}.{fmt}"


async def stream(
    request: web.Request, storage: ClickHouseService, taken: Snapshot, fmt: str
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{filename(taken, fmt)}"',
            "X-Export-Rows": str(taken.rows),
            "X-Request-ID": logs.request_id.get() or "",
        }
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export") as thread:
        reader = await loop.run_in_executor(thread, ExportReader, storage.clickhouse.config)
        chunks = encoded(reader, taken, fmt)
        try:
            while (chunk := await loop.run_in_executor(thread, next, chunks, None)) is not None:
                await response.write(chunk)
        finally:
            await loop.run_in_executor(thread, chunks.close)
            await loop.run_in_executor(thread, reader.close)
    await response.write_eof()
    return response


def route(storage: ClickHouseService, max_rows: int) -> web.RouteDef:
    """`max_rows`: EXPORT_MAX_ROWS."""
    latency = metrics.QUERY_LATENCY.labels("export")

    async def answer(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            query = given(request, routes.ExportQuery)
            taken = await snapshot(await storage.ready(), query.scope(), query.event_type)
            if taken.rows > max_rows:
                raise ApiError(
                    413,
                    f"the export holds {taken.rows} rows, more than EXPORT_MAX_ROWS ({max_rows}); "
                    "narrow the window, the app or the event_type",
                )
            return await stream(request, storage, taken, query.format)
        finally:
            latency.observe(time.perf_counter() - started)

    return bind(routes.EXPORT, answer)
