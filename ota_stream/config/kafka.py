"""Kafka settings (docs/configuration.md#kafka): the brokers, the topics the worker makes and how every client of
the process connects."""

from __future__ import annotations

import re
import ssl
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from ota_stream.config.base import Group

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_KEY_PAIR = (
    "a PEM certificate in KAFKA_SSL_CERT_FILE and its unencrypted PEM private key here (or in that file)"
)


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


def _no_password() -> str:
    """A key that needs a password fails to load instead of OpenSSL asking for one on the terminal."""
    raise ValueError("encrypted private keys are not supported")


class KafkaSettings(Group):
    """`KAFKA_*`, and INGEST_ACK_TIMEOUT_SECONDS: what every Kafka client of the process needs."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_")
    title = "Kafka"

    brokers: str = "localhost:9092"
    topic: str = "ota-events"
    dlq_topic: str = ""  # empty means "<KAFKA_TOPIC>-dlq"
    topic_partitions: Annotated[int, Field(ge=1, le=1024)] = 4
    # Replication and retention of the topics the worker creates (kafka/replication.py, docs/scaling.md). Unset:
    # 3 replicas and min.insync.replicas 2, or 1 and 1 with KAFKA_DEV_BROKER=true (a single development broker,
    # which the worker otherwise refuses: it cannot keep an acknowledged event safe).
    replication_factor: Annotated[int | None, Field(ge=1, le=16)] = None
    min_insync_replicas: Annotated[int | None, Field(ge=1, le=16)] = None
    dev_broker: bool = False
    # Long enough to replay the events into ClickHouse after an outage of a few days (7 days), and to read the
    # dead letters after a holiday (30 days).
    events_retention_hours: Annotated[float, Field(gt=0)] = 168.0
    dlq_retention_hours: Annotated[float, Field(gt=0)] = 720.0
    consumer_group: str = "ota-analytics-consumer"
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanisms: SaslMechanism | None = None
    # Required with SASL_PLAINTEXT and SASL_SSL (validated even when unset, see _sasl_login).
    sasl_username: Annotated[str | None, Field(validate_default=True)] = None
    sasl_password: Annotated[SecretStr | None, Field(validate_default=True)] = None
    # TLS (KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL): the CA that signed the brokers' certificates (default: the
    # system's CAs), and a client certificate and key for brokers that require one (the key may also be in the
    # certificate's file). PEM files, the key unencrypted; each is loaded at start (see _tls_files).
    ssl_ca_file: Path | None = None
    ssl_cert_file: Path | None = None
    ssl_key_file: Annotated[Path | None, Field(validate_default=True)] = None
    batch_size: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] = 64 * 1024
    # Ingest packs events that arrive while a send is in flight into one envelope (kafka/producer.py), so the
    # producer need not linger; a linger would add its delay to every lone request.
    linger_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    compression_type: Compression = Compression.LZ4
    commit_interval_seconds: Annotated[float, Field(gt=0, le=86_400)] = 1.0
    session_timeout_seconds: Annotated[float, Field(ge=1, le=600)] = 10.0
    # How long ingest waits for Kafka's acknowledgement (and an admin change for Kafka to store it) before a 503.
    ack_timeout_seconds: Annotated[
        float, Field(gt=0, le=120, validation_alias="INGEST_ACK_TIMEOUT_SECONDS")
    ] = 10.0
    # Ingest refuses new events at once (503, Retry-After: 1) while Kafka has not acknowledged the send in the air
    # for this long, rather than queueing them behind it until the ack timeout (kafka/producer.py): clients back off
    # early, and the events waiting in the process are at most this long's worth.
    max_wait_seconds: Annotated[float, Field(gt=0, le=120, validation_alias="INGEST_MAX_WAIT_SECONDS")] = 3.0
    # `ota-stream worker` waits this long for Kafka before starting Faust (which exits without a broker); 0: forever
    startup_timeout_seconds: Annotated[float, Field(ge=0)] = 300.0

    @field_validator("topic", "dlq_topic", "consumer_group")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        if value and not _TOPIC.match(value):
            raise ValueError("must be 1-200 characters from [A-Za-z0-9._-]")
        return value

    @field_validator("brokers")
    @classmethod
    def _brokers(cls, value: str) -> str:
        for broker in value.split(","):
            host, _, port = broker.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port...], got {broker.strip()!r}")
        return value

    @field_validator("sasl_username", "sasl_password")
    @classmethod
    def _sasl_login(cls, value: str | SecretStr | None, info: ValidationInfo) -> str | SecretStr | None:
        protocol = info.data.get("security_protocol")
        given = value.get_secret_value() if isinstance(value, SecretStr) else value
        if protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL) and not given:
            raise ValueError(f"required with KAFKA_SECURITY_PROTOCOL={protocol.value}")
        return value

    @field_validator("ssl_ca_file", "ssl_cert_file", "ssl_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ssl_ca_file", "ssl_cert_file", "ssl_key_file")
    @classmethod
    def _tls_files(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Each named file exists and loads, so that a wrong path or file stops the start, not the first connect."""
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        try:
            if info.field_name == "ssl_ca_file" and value is not None:
                ssl.create_default_context(cafile=value)
            elif info.field_name == "ssl_key_file":  # the certificate and its key, together
                cert = info.data.get("ssl_cert_file")
                if value is not None and cert is None:
                    raise ValueError("needs KAFKA_SSL_CERT_FILE, the certificate of this key")
                if cert is not None:
                    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                        cert, value, password=_no_password
                    )
        except ssl.SSLError as exc:
            what = "CA certificates" if info.field_name == "ssl_ca_file" else _KEY_PAIR
            raise ValueError(f"expected {what} ({exc.reason or exc})") from None
        return value

    @cached_property
    def keys_topic(self) -> str:
        """The compacted topic that holds the API keys of this installation (its consumer group's)."""
        return f"{self.consumer_group}-keys"

    @cached_property
    def alert_rules_topic(self) -> str:
        """The compacted topic that holds the alert rules (and their signing secrets) of this installation."""
        return f"{self.consumer_group}-alert-rules"

    @cached_property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}-dlq"

    @property
    def replicas(self) -> int:
        """KAFKA_REPLICATION_FACTOR, or its default for the kind of broker."""
        if self.replication_factor is not None:
            return self.replication_factor
        return 1 if self.dev_broker else 3

    @property
    def in_sync_replicas(self) -> int:
        """KAFKA_MIN_INSYNC_REPLICAS, or its default for the kind of broker."""
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return 1 if self.dev_broker else 2

    @property
    def sasl_mechanism(self) -> SaslMechanism:
        """KAFKA_SASL_MECHANISMS, PLAIN when a SASL protocol is chosen without one."""
        return self.sasl_mechanisms or SaslMechanism.PLAIN

    @property
    def faust_url(self) -> str:
        """The broker list as Faust wants it: kafka://host:port;host:port."""
        return "kafka://" + ";".join(b.strip() for b in self.brokers.split(","))

    @property
    def bootstrap_servers(self) -> list[str]:
        return [b.strip() for b in self.brokers.split(",")]
