"""Settings from the environment (spec §6): defaults, and a start-up error that names the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ota_stream.config import ConfigurationError, Settings, load_settings


def test_defaults_follow_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert (s.server_port, s.kafka_brokers, s.kafka_topic) == (6400, "localhost:9092", "ota-events")
    assert s.kafka_consumer_group == "ota-analytics-consumer"
    assert (s.clickhouse_database, s.batch_size, s.flush_interval_seconds) == ("analytics", 5000, 1.0)
    assert (s.retention_days, s.data_dir) == (365, Path("./var"))
    assert s.clickhouse_dsn == f"chdb://{(tmp_path / 'var' / 'clickhouse').resolve()}"
    assert s.server_host == "127.0.0.1"
    assert s.dlq_topic == "ota-events-dlq"


def test_clickhouse_url_selects_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", "http://ch.internal:8123")
    monkeypatch.setenv("CLICKHOUSE_USERNAME", "ota")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "secret")
    s = Settings()
    assert s.clickhouse_dsn == "http://ch.internal:8123"
    assert s.clickhouse_password is not None and s.clickhouse_password.get_secret_value() == "secret"
    assert "secret" not in repr(s)


def test_kafka_brokers_become_a_faust_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BROKERS", "a:9092, b:9093")
    s = Settings()
    assert s.kafka_url == "kafka://a:9092;b:9093"
    assert s.bootstrap_servers == ["a:9092", "b:9093"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SERVER_PORT", "0"),
        ("SERVER_PORT", "http"),
        ("KAFKA_BROKERS", "localhost"),
        ("KAFKA_TOPIC", "bad topic"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("KAFKA_COMPRESSION_TYPE", "brotli"),
        ("CLICKHOUSE_URL", "mysql://x"),
        ("CLICKHOUSE_DATABASE", "drop table;"),
        ("BATCH_SIZE", "0"),
        ("FLUSH_INTERVAL_SECONDS", "-1"),
        ("RETENTION_DAYS", "forever"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert f"{variable}:" in str(caught.value.code)


def test_worker_refuses_to_start_on_a_bad_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ota_stream.cli", "migrate"],
        env={"PATH": "/usr/bin:/bin", "BATCH_SIZE": "lots", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "BATCH_SIZE:" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_log_level_is_one_faust_accepts() -> None:
    from faust.cli.base import LOGLEVELS

    from ota_stream.cli import FAUST_LOG_LEVELS
    from ota_stream.config import LogLevel

    assert set(FAUST_LOG_LEVELS) == {level.value for level in LogLevel}
    assert {level.upper() for level in FAUST_LOG_LEVELS.values()} <= set(LOGLEVELS)
