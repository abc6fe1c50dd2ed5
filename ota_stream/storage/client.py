"""One clickhouse-connect client for embedded chDB (`chdb:///path`) or a server (`http(s)://host:port`).

The two differ only in the DSN. Calls block, so each runs in a worker thread: chDB releases the GIL in queries
and is thread-safe, and the HTTP client runs without a session so that concurrent queries are allowed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import clickhouse_connect
import orjson
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from ota_stream.config import ClickHouseSettings
from ota_stream.storage.errors import StorageUnavailable, is_unavailable

Row = Sequence[Any]
T = TypeVar("T")
# The characters clickhouse-connect escapes in a parameter value (binding.must_escape), mapped in one C pass.
_ESCAPES = str.maketrans({c: "\\" + c for c in ("\\", "'", "`", "\t", "\n")})


class PreEscaped:
    """A string parameter escaped here with `str.translate`, which clickhouse-connect sends as it is.

    clickhouse-connect escapes a str parameter one character at a time in Python: 20 ms for the 200 KB of ids of
    a 5,000-event batch. Its binder passes any other type through `str()`, so this carries text it escaped the
    same way (the same characters, the same backslash) in one call.
    """

    def __init__(self, text: str) -> None:
        self.escaped = text.translate(_ESCAPES)

    def __str__(self) -> str:
        return self.escaped


def json_param(value: Any) -> PreEscaped:
    """A JSON document as a String parameter, for `JSONExtract({p:String}, 'Array(String)')` and the like."""
    return PreEscaped(orjson.dumps(value).decode())


async def _in_thread(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking call in a worker thread; an unavailable server becomes StorageUnavailable."""
    try:
        return await asyncio.to_thread(call, *args)
    except Exception as exc:
        if is_unavailable(exc) and not isinstance(exc, StorageUnavailable):
            raise StorageUnavailable(f"ClickHouse is unavailable: {exc}") from exc
        raise


# Every query on a cluster (storage/ddl.py): an insert into a Distributed table returns once each shard has its rows
# (not when they are queued on this node), on a majority of the shard's replicas, in order, so that a read with
# select_sequential_consistency (the sink's duplicate check) sees every row written before it. A subquery over a
# Distributed table inside a distributed query reads each shard's local table: one app's rows, in every table, are
# on one shard, and every query that nests them (release_sql.py) is scoped to one app.
CLUSTER_SESSION_SETTINGS: dict[str, Any] = {
    "distributed_foreground_insert": 1,
    "insert_quorum": "auto",
    "insert_quorum_parallel": 0,
    "distributed_product_mode": "local",
}


MIB = 1024 * 1024


def chdb_engine_options(settings: ClickHouseSettings) -> dict[str, int]:
    """Startup settings of the embedded engine that bound its memory: chDB sizes its limit from the machine's RAM
    (90%) and its mark and index caches at 5 GiB each, far beyond what a worker of a few hundred MiB can hold.

    chDB hosts one engine per process and takes these from the connection that starts it; every client of the
    process is opened with the same ones.
    """
    cache = settings.chdb_cache_mib * MIB
    return {
        "max_server_memory_usage": settings.chdb_max_memory_mib * MIB,
        "mark_cache_size": cache,
        "primary_index_cache_size": cache,
        "index_mark_cache_size": cache,
        "uncompressed_cache_size": 0,
    }


# chDB's allocator (jemalloc) by default keeps freed pages for 10 s and runs an arena per core and thread cache:
# pages freed once an insert is done stay resident. An operator's own JE_MALLOC_CONF is kept.
CHDB_ALLOCATOR = "dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2"


def bound_embedded_memory() -> None:
    """Before chDB loads (jemalloc reads its options once): return freed pages within a second; and Arrow's tables
    (the sink's batches, query results) on the system allocator rather than Arrow's own pool, which keeps what
    it has freed. Measured with both, the worker's peak RSS at 256 clients was 40 MiB lower (bench/RESULTS.md)."""
    os.environ.setdefault("JE_MALLOC_CONF", CHDB_ALLOCATOR)
    pa.set_memory_pool(pa.system_memory_pool())


@dataclass(frozen=True)
class ClickHouseConfig:
    dsn: str
    database: str
    username: str | None = None
    password: str | None = None
    cluster: str = ""  # CLICKHOUSE_CLUSTER: empty on one node (storage/ddl.py renders the migrations for it)
    engine_options: dict[str, int] = field(default_factory=dict)  # embedded chDB's (chdb_engine_options)

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings, data_dir: Path) -> ClickHouseConfig:
        """CLICKHOUSE_*, with embedded chDB under `data_dir` (DATA_DIR) unless CLICKHOUSE_URL names a server."""
        password = settings.password.get_secret_value() if settings.password else None
        return cls(
            settings.dsn(data_dir),
            settings.database,
            settings.username,
            password,
            settings.cluster,
            chdb_engine_options(settings),
        )

    @property
    def embedded(self) -> bool:
        return urlsplit(self.dsn).scheme == "chdb"

    def client_kwargs(self) -> dict[str, Any]:
        """Arguments for `clickhouse_connect.get_client`, without the database."""
        kwargs: dict[str, Any] = {"dsn": self.dsn}
        if self.embedded and self.engine_options:
            kwargs["chdb_options"] = dict(self.engine_options)
        if not self.embedded:
            kwargs["autogenerate_session_id"] = False
            if self.username:
                kwargs["username"] = self.username
            if self.password:
                kwargs["password"] = self.password
            if self.cluster:
                kwargs["settings"] = dict(CLUSTER_SESSION_SETTINGS)
        return kwargs


class ClickHouse:
    """Async facade over a blocking clickhouse-connect client bound to the configured database."""

    def __init__(self, config: ClickHouseConfig) -> None:
        self.config = config
        self._client: Client | None = None

    def connect(self) -> None:
        """Create the database if needed and open a client bound to it (blocking)."""
        if self._client is not None:
            return
        if self.config.embedded:
            bound_embedded_memory()
            os.makedirs(urlsplit(self.config.dsn).path, exist_ok=True)
        bootstrap = clickhouse_connect.get_client(**self.config.client_kwargs())
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{self.config.database}`")
        self._client = clickhouse_connect.get_client(
            **self.config.client_kwargs(), database=self.config.database
        )
        if not self.config.embedded:
            bootstrap.close()

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("ClickHouse.connect() has not run")
        return self._client

    def close(self) -> None:
        if self._client is not None and not self.config.embedded:
            self._client.close()
        self._client = None

    # Blocking calls, for migrations and the CLI.
    def query_rows(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        result = self.client.query(sql, parameters=parameters, settings=settings)
        return [tuple(row) for row in result.result_rows]

    def query_arrow_sync(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> pa.Table:
        return self.client.query_arrow(sql, parameters=parameters, settings=settings)

    def command_sync(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> Any:
        return self.client.command(sql, parameters=parameters, settings=settings)

    def insert_sync(
        self, table: str, rows: Sequence[Row], columns: Sequence[str], settings: dict[str, Any] | None = None
    ) -> None:
        self.client.insert(table, list(rows), column_names=list(columns), settings=settings or {})

    def insert_arrow_sync(self, table: str, rows: pa.Table, settings: dict[str, Any] | None = None) -> None:
        self.client.insert_arrow(table, rows, settings=settings or {})

    # Async calls, for the worker. A server that is away or overloaded raises StorageUnavailable (storage/errors.py).
    async def insert_arrow(self, table: str, rows: pa.Table, settings: dict[str, Any] | None = None) -> None:
        await _in_thread(self.insert_arrow_sync, table, rows, settings)

    async def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        return await _in_thread(self.query_rows, sql, parameters, settings)

    async def query_arrow(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> pa.Table:
        return await _in_thread(self.query_arrow_sync, sql, parameters, settings)

    async def insert(
        self, table: str, rows: Sequence[Row], columns: Sequence[str], settings: dict[str, Any] | None = None
    ) -> None:
        await _in_thread(self.insert_sync, table, rows, columns, settings)

    async def ping(self) -> float:
        """Run SELECT 1 and return its round trip in milliseconds; raises when ClickHouse is unusable."""
        started = time.perf_counter()
        await self.query("SELECT 1")
        return (time.perf_counter() - started) * 1000
