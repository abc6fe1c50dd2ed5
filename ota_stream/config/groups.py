"""The settings groups besides Kafka's: HTTP and roles, ClickHouse, the pipeline, live windows, keys, alerts and
logs, each named after its section of docs/configuration.md."""

from __future__ import annotations

import os
import re
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from ota_stream.config.base import Group

AUTO_INGEST_PROCESSES_MAX = 4
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class WorkerRole(StrEnum):
    ALL = "all"  # ingest and stream processing, analytics and live views (the default)
    PROCESS = (
        "process"  # stream processing, analytics and live views; ingest runs elsewhere (`ota-stream ingest`)
    )


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class HttpSettings(Group):
    """Where and how the process serves HTTP, and which processes serve it (web/front.py, roles.py)."""

    title = "HTTP and roles"

    server_port: Annotated[int, Field(ge=1, le=65535)] = 6400
    server_host: str = "127.0.0.1"
    server_canonical_url: str | None = None  # how other workers reach this one; default http://host:port
    # `ota-stream worker` runs the stream processing and, unless WORKER_ROLE=process, INGEST_PROCESSES ingest
    # processes in front of it that share SERVER_PORT (reuse_port), take POST /events themselves and pass every
    # other request on to the worker. 0 serves everything from the worker, in one process. `ota-stream ingest`
    # runs INGEST_PROCESSES (at least one) ingest processes alone.
    worker_role: WorkerRole = WorkerRole.ALL
    # `auto` (the default) sizes it from the cores this process may run on (`ingest_process_count`).
    ingest_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = "auto"
    # Slow clients (web/security.py, web/body.py): a connection must send a whole request head within this long of
    # opening or of its last answer (so it is also how long an idle keep-alive connection stays open), and a body
    # must arrive whole within this long of the head (408 otherwise).
    http_header_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    http_body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    def ingest_process_count(self, alone: bool = False) -> int:
        """INGEST_PROCESSES, or for `auto`: one per core, at most AUTO_INGEST_PROCESSES_MAX (each holds about
        75 MiB); in front of a worker, from three cores up, one core is left to the Faust worker.

        Under many single-event requests the ingest processes are the bottleneck and the Faust worker needs a third
        to a half of a core: on two cores, two ingest processes in front of it took 1.5x the single events per second
        of one, and 1.7x the batches (bench/RESULTS.md, issue 31)."""
        if self.ingest_processes != "auto":
            return self.ingest_processes
        cores = len(os.sched_getaffinity(0))
        return max(1, min(AUTO_INGEST_PROCESSES_MAX, cores if alone or cores <= 2 else cores - 1))

    @property
    def canonical_url(self) -> str:
        if self.server_canonical_url:
            return self.server_canonical_url
        host = socket.gethostname() if self.server_host in ("0.0.0.0", "::") else self.server_host
        return f"http://{host}:{self.server_port}"


class ClickHouseSettings(Group):
    """`CLICKHOUSE_*`: embedded chDB (the default) or a server, and its database."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_")
    title = "ClickHouse"

    url: str | None = None
    database: str = "analytics"
    username: str | None = None
    password: SecretStr | None = None
    # A cluster named in the servers' remote_servers: migrations run ON CLUSTER with Replicated engines, reads and
    # inserts go through Distributed tables sharded by app (storage/ddl.py, docs/scaling.md). Empty: one node.
    cluster: str = ""
    # Embedded chDB only (a server keeps its own configuration): the most memory its engine may take, past which a
    # query or insert fails (an insert is retried like any ClickHouse error): a ceiling against a runaway query, far
    # above what the worker uses (one 1,000,000-row insert through the views needed more than 320 MiB); and the size
    # of each of its index caches (marks, primary key, skip-index marks), gigabytes by ClickHouse's defaults. Its
    # uncompressed cache is off.
    chdb_max_memory_mib: Annotated[int, Field(ge=64, le=1_048_576)] = 1024
    chdb_cache_mib: Annotated[int, Field(ge=0, le=65_536)] = 16

    @field_validator("database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a plain identifier: letters, digits and underscores")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("chdb", "http", "https"):
            raise ValueError("must start with chdb://, http:// or https://")
        if parts.scheme == "chdb" and not parts.path:
            raise ValueError("chdb:// needs an absolute path, e.g. chdb:///var/lib/ota/clickhouse")
        if parts.scheme != "chdb" and not parts.hostname:
            raise ValueError("needs a host, e.g. http://localhost:8123")
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a plain identifier: letters, digits and underscores")
        if not info.data.get("url") or info.data["url"].startswith("chdb:"):
            raise ValueError("needs CLICKHOUSE_URL of a ClickHouse server (chDB is one node)")
        return value

    def dsn(self, data_dir: Path) -> str:
        """CLICKHOUSE_URL, or the embedded chDB under DATA_DIR."""
        if self.url:
            return self.url
        return f"chdb://{(data_dir / 'clickhouse').resolve()}"


class PipelineSettings(Group):
    """The sink's batches, the events' retention, the process's data and how long a stop may take."""

    title = "Pipeline"

    # Events per ClickHouse insert (at most one envelope over). 5,000 rather than the seed's 1,000: an insert
    # through the materialized views costs about 100 ms whatever its size up to a few thousand rows, so 1,000-row
    # inserts cap a worker near 7,000 events/s (bench/RESULTS.md).
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000
    flush_interval_seconds: Annotated[float, Field(gt=0, le=300)] = 1.0
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    data_dir: Path = Path("./var")
    # A partition with lag whose committed offset does not move for this long is stalled (watchdog.py, healer.py).
    sink_stall_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    # A stop (SIGTERM) ends within this long, even with ClickHouse away (shutdown.py); ingest processes finish the
    # requests in flight within it too.
    shutdown_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # An /analytics/export of more rows is refused with 413 (docs/api.md#get-analyticsexport).
    export_max_rows: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1_000_000


class LiveSettings(Group):
    """`LIVE_*`: the live windows' tables (docs/api.md#live-windows)."""

    model_config = SettingsConfigDict(env_prefix="LIVE_")
    title = "Live windows"

    window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 60
    retention_seconds: Annotated[int, Field(ge=1, le=7 * 86_400)] = 3600
    tables_enabled: bool = True
    # Each RocksDB database of a table (one per table and partition, standby copies included) gets its own block
    # cache and write buffers (tables/store.py); Faust's defaults are a 2 GiB cache and three 64 MiB buffers.
    rocksdb_block_cache_mib: Annotated[int, Field(ge=1, le=65_536)] = 4
    rocksdb_write_buffer_mib: Annotated[int, Field(ge=1, le=4096)] = 4


class AuthSettings(Group):
    """Keys, rate limits, pseudonymised device ids and browsers (docs/security.md)."""

    title = "Security"

    auth_required: bool = True
    admin_api_key: SecretStr | None = None  # accepted for the admin routes, to bootstrap an installation
    rate_limit_ingest_events_per_second: Annotated[float, Field(ge=0)] = 2000.0  # per key and process; 0: off
    rate_limit_read_requests_per_second: Annotated[float, Field(ge=0)] = 20.0
    device_id_hmac_key: SecretStr | None = None  # when set, device ids are pseudonymised before Kafka
    cors_allow_origins: str = ""  # comma-separated origins allowed to call the API from a browser

    @field_validator("admin_api_key")
    @classmethod
    def _admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @property
    def cors_origins(self) -> frozenset[str]:
        return frozenset(origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip())


class AlertSettings(Group):
    """`ALERT_*`: evaluating the rules and delivering their webhooks (docs/alerts.md), and
    `GUARD_EVALUATION_INTERVAL_SECONDS` for the rollout guards, whose decisions go out as alert webhooks do. Rules
    are evaluated on the live windows, so they need LIVE_TABLES_ENABLED; guards read ClickHouse and do not."""

    model_config = SettingsConfigDict(env_prefix="ALERT_")
    title = "Alerts"

    evaluation_interval_seconds: Annotated[float, Field(gt=0, le=10)] = 5.0
    # Rollout guards (docs/decisions.md#rollout-guards) run the health gate on ClickHouse: each is evaluated at
    # least every minute, and their decisions are delivered with the alerts' settings below.
    guard_evaluation_interval_seconds: Annotated[
        float, Field(gt=0, le=60, validation_alias="GUARD_EVALUATION_INTERVAL_SECONDS")
    ] = 60.0
    # A notification is retried until an attempt fails this long after the notification was made.
    delivery_give_up_seconds: Annotated[float, Field(gt=0, le=7 * 86_400)] = 600.0
    delivery_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    delivery_backoff_initial_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    delivery_backoff_max_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Webhooks to loopback, link-local and private addresses are refused unless this is true (local tests only).
    webhook_allow_private: bool = False


class LogSettings(Group):
    title = "Logs"

    level: Annotated[LogLevel, Field(validation_alias="LOG_LEVEL")] = LogLevel.INFO
