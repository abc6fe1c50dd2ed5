"""Settings from environment variables (spec §6).

A bad value stops the process at start with a message that names the variable: see `load_settings`.
"""

from __future__ import annotations

import re
import socket
import ssl
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    SNAPPY = "snappy"
    LZ4 = "lz4"
    ZSTD = "zstd"


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


_KEY_PAIR = (
    "a PEM certificate in KAFKA_SSL_CERT_FILE and its unencrypted PEM private key here (or in that file)"
)


def _no_password() -> str:
    """A key that needs a password fails to load instead of OpenSSL asking for one on the terminal."""
    raise ValueError("encrypted private keys are not supported")


class Settings(BaseSettings):
    """Every knob of a worker. Field `foo_bar` reads the environment variable `FOO_BAR`."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # HTTP
    server_port: Annotated[int, Field(ge=1, le=65535)] = 6400
    server_host: str = "127.0.0.1"
    server_canonical_url: str | None = None  # how other workers reach this one; default http://host:port

    # Roles (web/front.py): `ota-stream worker` runs the stream processing and, unless WORKER_ROLE=process,
    # INGEST_PROCESSES ingest processes in front of it that share SERVER_PORT (reuse_port), take POST /events
    # themselves and pass every other request on to the worker. 0 serves everything from the worker, in one process.
    # `ota-stream ingest` runs INGEST_PROCESSES (at least one) ingest processes alone.
    worker_role: WorkerRole = WorkerRole.ALL
    ingest_processes: Annotated[int, Field(ge=0, le=64)] = 1
    # Slow clients (web/security.py, web/body.py): a connection must send a whole request head within this long of
    # opening or of its last answer (so it is also how long an idle keep-alive connection stays open), and a body
    # must arrive whole within this long of the head (408 otherwise).
    http_header_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    http_body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    # Kafka
    kafka_brokers: str = "localhost:9092"
    kafka_topic: str = "ota-events"
    kafka_dlq_topic: str = ""  # empty means "<KAFKA_TOPIC>-dlq"
    kafka_topic_partitions: Annotated[int, Field(ge=1, le=1024)] = 4
    # Replication and retention of the topics the worker creates (kafka/replication.py, docs/scaling.md). Unset:
    # 3 replicas and min.insync.replicas 2, or 1 and 1 with KAFKA_DEV_BROKER=true (a single development broker,
    # which the worker otherwise refuses: it cannot keep an acknowledged event safe).
    kafka_replication_factor: Annotated[int | None, Field(ge=1, le=16)] = None
    kafka_min_insync_replicas: Annotated[int | None, Field(ge=1, le=16)] = None
    kafka_dev_broker: bool = False
    # Long enough to replay the events into ClickHouse after an outage of a few days (7 days), and to read the
    # dead letters after a holiday (30 days).
    kafka_events_retention_hours: Annotated[float, Field(gt=0)] = 168.0
    kafka_dlq_retention_hours: Annotated[float, Field(gt=0)] = 720.0
    kafka_consumer_group: str = "ota-analytics-consumer"
    kafka_security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    kafka_sasl_mechanisms: SaslMechanism | None = None
    # Required with SASL_PLAINTEXT and SASL_SSL (validated even when unset, see _sasl_login).
    kafka_sasl_username: Annotated[str | None, Field(validate_default=True)] = None
    kafka_sasl_password: Annotated[SecretStr | None, Field(validate_default=True)] = None
    # TLS (KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL): the CA that signed the brokers' certificates (default: the
    # system's CAs), and a client certificate and key for brokers that require one (the key may also be in the
    # certificate's file). PEM files, the key unencrypted; each is loaded at start (see _tls_files).
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Annotated[Path | None, Field(validate_default=True)] = None
    kafka_batch_size: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] = 64 * 1024
    # Ingest packs events that arrive while a send is in flight into one envelope (kafka/producer.py), so the
    # producer need not linger; a linger would add its delay to every lone request.
    kafka_linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    kafka_compression_type: Compression = Compression.LZ4
    kafka_commit_interval_seconds: Annotated[float, Field(gt=0, le=86_400)] = 1.0
    kafka_session_timeout_seconds: Annotated[float, Field(ge=1, le=600)] = 10.0
    ingest_ack_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    # For fault tests: hold each seek of Faust's consumer after an assignment this long, as a loaded broker does.
    kafka_seek_delay_seconds: Annotated[float, Field(ge=0, le=60)] = 0.0
    # `ota-stream worker` waits this long for Kafka before starting Faust (which exits without a broker); 0: forever
    kafka_startup_timeout_seconds: Annotated[float, Field(ge=0)] = 300.0

    # ClickHouse
    clickhouse_url: str | None = None
    clickhouse_database: str = "analytics"
    clickhouse_username: str | None = None
    clickhouse_password: SecretStr | None = None
    # A cluster named in the servers' remote_servers: migrations run ON CLUSTER with Replicated engines, reads and
    # inserts go through Distributed tables sharded by app (storage/ddl.py, docs/scaling.md). Empty: one node.
    clickhouse_cluster: str = ""
    # For fault tests: while this file exists, every ClickHouse call fails as if the server were down.
    clickhouse_failpoint_file: Path | None = None

    # Pipeline
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

    # Exports (spec §9): an export of more rows is refused with 413
    export_max_rows: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1_000_000

    # Live windows (spec §4)
    live_window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 60
    live_retention_seconds: Annotated[int, Field(ge=1, le=7 * 86_400)] = 3600
    live_tables_enabled: bool = True

    # Security (spec §7)
    auth_required: bool = True
    admin_api_key: SecretStr | None = None  # accepted for the admin routes, to bootstrap an installation
    rate_limit_ingest_events_per_second: Annotated[float, Field(ge=0)] = 2000.0  # per key and process; 0: off
    rate_limit_read_requests_per_second: Annotated[float, Field(ge=0)] = 20.0
    device_id_hmac_key: SecretStr | None = None  # when set, device ids are pseudonymised before Kafka
    cors_allow_origins: str = ""  # comma-separated origins allowed to call the API from a browser

    # Alerts (spec §10, docs/alerts.md). Rules are evaluated on the live windows, so they need LIVE_TABLES_ENABLED.
    alert_evaluation_interval_seconds: Annotated[float, Field(gt=0, le=10)] = 5.0
    # A notification is retried until an attempt fails this long after the notification was made.
    alert_delivery_give_up_seconds: Annotated[float, Field(gt=0, le=7 * 86_400)] = 600.0
    alert_delivery_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    alert_delivery_backoff_initial_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    alert_delivery_backoff_max_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Webhooks to loopback, link-local and private addresses are refused unless this is true (local tests only).
    alert_webhook_allow_private: bool = False

    log_level: LogLevel = LogLevel.INFO

    @field_validator("clickhouse_database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a plain identifier: letters, digits and underscores")
        return value

    @field_validator("clickhouse_cluster")
    @classmethod
    def _cluster(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a plain identifier: letters, digits and underscores")
        if not info.data.get("clickhouse_url") or info.data["clickhouse_url"].startswith("chdb:"):
            raise ValueError("needs CLICKHOUSE_URL of a ClickHouse server (chDB is one node)")
        return value

    @field_validator("kafka_topic", "kafka_dlq_topic", "kafka_consumer_group")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        if value and not _TOPIC.match(value):
            raise ValueError("must be 1-200 characters from [A-Za-z0-9._-]")
        return value

    @field_validator("kafka_brokers")
    @classmethod
    def _brokers(cls, value: str) -> str:
        for broker in value.split(","):
            host, _, port = broker.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port...], got {broker.strip()!r}")
        return value

    @field_validator("kafka_sasl_username", "kafka_sasl_password")
    @classmethod
    def _sasl_login(cls, value: str | SecretStr | None, info: ValidationInfo) -> str | SecretStr | None:
        protocol = info.data.get("kafka_security_protocol")
        given = value.get_secret_value() if isinstance(value, SecretStr) else value
        if protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL) and not given:
            raise ValueError(f"required with KAFKA_SECURITY_PROTOCOL={protocol.value}")
        return value

    @field_validator("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file")
    @classmethod
    def _tls_files(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Each named file exists and loads, so that a wrong path or file stops the start, not the first connect."""
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        try:
            if info.field_name == "kafka_ssl_ca_file" and value is not None:
                ssl.create_default_context(cafile=value)
            elif info.field_name == "kafka_ssl_key_file":  # the certificate and its key, together
                cert = info.data.get("kafka_ssl_cert_file")
                if value is not None and cert is None:
                    raise ValueError("needs KAFKA_SSL_CERT_FILE, the certificate of this key")
                if cert is not None:
                    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                        cert, value, password=_no_password
                    )
        except ssl.SSLError as exc:
            what = "CA certificates" if info.field_name == "kafka_ssl_ca_file" else _KEY_PAIR
            raise ValueError(f"expected {what} ({exc.reason or exc})") from None
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url(cls, value: str | None) -> str | None:
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

    @field_validator("admin_api_key")
    @classmethod
    def _admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @cached_property
    def keys_topic(self) -> str:
        """The compacted topic that holds the API keys of this installation (its consumer group's)."""
        return f"{self.kafka_consumer_group}-keys"

    @cached_property
    def alert_rules_topic(self) -> str:
        """The compacted topic that holds the alert rules (and their signing secrets) of this installation."""
        return f"{self.kafka_consumer_group}-alert-rules"

    @property
    def cors_origins(self) -> frozenset[str]:
        return frozenset(origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip())

    @property
    def replication_factor(self) -> int:
        if self.kafka_replication_factor is not None:
            return self.kafka_replication_factor
        return 1 if self.kafka_dev_broker else 3

    @property
    def min_insync_replicas(self) -> int:
        if self.kafka_min_insync_replicas is not None:
            return self.kafka_min_insync_replicas
        return 1 if self.kafka_dev_broker else 2

    @cached_property
    def dlq_topic(self) -> str:
        return self.kafka_dlq_topic or f"{self.kafka_topic}-dlq"

    @cached_property
    def clickhouse_dsn(self) -> str:
        """CLICKHOUSE_URL, or the embedded chDB under DATA_DIR."""
        if self.clickhouse_url:
            return self.clickhouse_url
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def canonical_url(self) -> str:
        if self.server_canonical_url:
            return self.server_canonical_url
        host = socket.gethostname() if self.server_host in ("0.0.0.0", "::") else self.server_host
        return f"http://{host}:{self.server_port}"

    @property
    def sasl_mechanism(self) -> SaslMechanism:
        """KAFKA_SASL_MECHANISMS, PLAIN when a SASL protocol is chosen without one."""
        return self.kafka_sasl_mechanisms or SaslMechanism.PLAIN

    @property
    def kafka_url(self) -> str:
        """The broker list as Faust wants it: kafka://host:port;host:port."""
        return "kafka://" + ";".join(b.strip() for b in self.kafka_brokers.split(","))

    @property
    def bootstrap_servers(self) -> list[str]:
        return [b.strip() for b in self.kafka_brokers.split(",")]


class ConfigurationError(SystemExit):
    """Raised at start-up for a bad environment variable: the process exits with status 1."""


def describe(error: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for item in error.errors():
        variable = str(item["loc"][0]).upper() if item["loc"] else "?"
        secret = any(word in variable for word in ("PASSWORD", "KEY"))
        shown = "***" if secret else repr(item.get("input"))
        lines.append(f"  {variable}: {item['msg']} (got {shown})")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Read the environment, or exit with a message naming each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe(exc)) from None
