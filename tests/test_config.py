"""Settings from the environment (docs/configuration.md): defaults, and a start-up error that names the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ota_stream.config import ConfigurationError, KafkaSettings, load_settings
from tests.support.certificates import authority, issue


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert (s.http.server_port, s.kafka.brokers, s.kafka.topic) == (6400, "localhost:9092", "ota-events")
    assert s.kafka.consumer_group == "ota-analytics-consumer"
    assert (s.clickhouse.database, s.pipeline.batch_size, s.pipeline.flush_interval_seconds) == (
        "analytics",
        5000,
        1.0,
    )
    assert (s.pipeline.retention_days, s.pipeline.data_dir) == (365, Path("./var"))
    assert s.clickhouse.dsn(s.pipeline.data_dir) == f"chdb://{(tmp_path / 'var' / 'clickhouse').resolve()}"
    assert s.http.server_host == "127.0.0.1"
    assert s.kafka.dead_letter_topic == "ota-events-dlq"


def test_clickhouse_url_selects_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", "http://ch.internal:8123")
    monkeypatch.setenv("CLICKHOUSE_USERNAME", "ota")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "secret")
    s = load_settings()
    assert s.clickhouse.dsn(s.pipeline.data_dir) == "http://ch.internal:8123"
    assert s.clickhouse.password is not None and s.clickhouse.password.get_secret_value() == "secret"
    assert "secret" not in repr(s)


def test_kafka_brokers_become_a_faust_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BROKERS", "a:9092, b:9093")
    s = KafkaSettings()
    assert s.faust_url == "kafka://a:9092;b:9093"
    assert s.bootstrap_servers == ["a:9092", "b:9093"]


@pytest.mark.parametrize(
    ("value", "cores", "in_front", "alone"),
    [
        ("auto", 2, 2, 2),
        ("auto", 3, 2, 3),
        ("auto", 4, 3, 4),
        ("auto", 1, 1, 1),
        ("auto", 16, 4, 4),
        ("2", 16, 2, 2),
        ("0", 4, 0, 0),
    ],
)
def test_ingest_processes_auto_follows_the_cores(
    monkeypatch: pytest.MonkeyPatch, value: str, cores: int, in_front: int, alone: int
) -> None:
    """`auto`: one per core, at least 1, at most 4; in front of a worker one core less from three cores up."""
    monkeypatch.setenv("INGEST_PROCESSES", value)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    http = load_settings().http
    assert (http.ingest_process_count(), http.ingest_process_count(alone=True)) == (in_front, alone)


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
        ("INGEST_ACK_TIMEOUT_SECONDS", "500"),
        ("LIVE_WINDOW_SECONDS", "0"),
        ("ALERT_DELIVERY_TIMEOUT_SECONDS", "0"),
        ("GUARD_EVALUATION_INTERVAL_SECONDS", "61"),  # a guard is evaluated at least every minute
        ("GUARD_EVALUATION_INTERVAL_SECONDS", "0"),
        ("HTTP_BODY_TIMEOUT_SECONDS", "-5"),
        ("EXPORT_MAX_ROWS", "0"),
        ("INGEST_PROCESSES", "many"),
        ("INGEST_PROCESSES", "65"),
        ("INGEST_MAX_WAIT_SECONDS", "0"),
        ("CLICKHOUSE_CHDB_MAX_MEMORY_MIB", "10"),
        ("LIVE_ROCKSDB_BLOCK_CACHE_MIB", "0"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert f"{variable}:" in str(caught.value.code)


def test_every_bad_variable_of_every_group_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One message for the whole environment (each group is read even after another failed), secrets hidden."""
    bad = {
        "SERVER_PORT": "70000",
        "KAFKA_TOPIC": "bad topic",
        "CLICKHOUSE_URL": "mysql://x",
        "BATCH_SIZE": "0",
        "LIVE_RETENTION_SECONDS": "0",
        "ADMIN_API_KEY": "too-short-secret",
        "ALERT_EVALUATION_INTERVAL_SECONDS": "60",
        "LOG_LEVEL": "LOUD",
    }
    for variable, value in bad.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    lines = str(caught.value.code).splitlines()
    assert lines[0] == "invalid configuration:"
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == sorted(bad)
    assert "too-short-secret" not in str(caught.value.code) and "ADMIN_API_KEY: " in str(caught.value.code)


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


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_needs_a_username_and_a_password(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value.code)
    assert f"KAFKA_SASL_USERNAME: Value error, required with KAFKA_SECURITY_PROTOCOL={protocol}" in message
    assert f"KAFKA_SASL_PASSWORD: Value error, required with KAFKA_SECURITY_PROTOCOL={protocol}" in message

    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ota")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    s = load_settings()
    assert s.kafka.sasl_username == "ota" and s.kafka.sasl_mechanism.value == "PLAIN"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a client certificate with its key, another key, an encrypted key, and a file that holds no PEM."""
    directory = tmp_path_factory.mktemp("tls")
    ca = authority(directory, "ca")
    client = issue(directory, "client", ca)
    other = issue(directory, "other", ca)
    locked = issue(directory, "locked", ca, passphrase="hunter22")
    combined = directory / "combined.pem"
    combined.write_text(client.cert.read_text() + client.key.read_text())
    garbage = directory / "garbage.pem"
    garbage.write_text("not a certificate\n")
    return {
        "ca": ca.cert,
        "cert": client.cert,
        "key": client.key,
        "combined": combined,
        "other_key": other.key,
        "locked_key": locked.key,
        "locked_cert": locked.cert,
        "garbage": garbage,
    }


CA, CERT, KEY = "KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE"


@pytest.mark.parametrize(
    ("files", "variable", "says"),
    [
        ({CA: "missing"}, CA, "no such file"),
        ({CA: "garbage"}, CA, "expected CA certificates"),
        ({CA: "key"}, CA, "expected CA certificates"),
        ({CERT: "missing", KEY: "key"}, CERT, "no such file"),
        ({CERT: "cert", KEY: "missing"}, KEY, "no such file"),
        ({KEY: "key"}, KEY, "needs KAFKA_SSL_CERT_FILE"),
        ({CERT: "cert"}, KEY, "expected a PEM certificate"),  # no key anywhere
        ({CERT: "cert", KEY: "other_key"}, KEY, "KEY_VALUES_MISMATCH"),
        ({CERT: "garbage", KEY: "key"}, KEY, "expected a PEM certificate"),
        ({CERT: "locked_cert", KEY: "locked_key"}, KEY, "encrypted private keys are not supported"),
    ],
)
def test_tls_files_must_exist_and_load(
    monkeypatch: pytest.MonkeyPatch,
    tls_files: dict[str, Path],
    files: dict[str, str],
    variable: str,
    says: str,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    for name, which in files.items():
        path = tls_files.get(which, tls_files["ca"].parent / "does-not-exist.pem")
        monkeypatch.setenv(name, str(path))
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    line = next((x for x in str(caught.value.code).splitlines() if x.strip().startswith(f"{variable}:")), "")
    assert says in line, caught.value.code


@pytest.mark.parametrize(
    "files",
    [
        {CA: "ca"},
        {CA: "ca", CERT: "cert", KEY: "key"},
        {CERT: "combined"},  # the key in the certificate's file
        {CA: "", CERT: "", KEY: ""},  # empty: unset
    ],
)
def test_tls_files_that_load_are_taken(
    monkeypatch: pytest.MonkeyPatch, tls_files: dict[str, Path], files: dict[str, str]
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    for name, which in files.items():
        monkeypatch.setenv(name, str(tls_files[which]) if which else "")
    s = load_settings()
    taken = {name: getattr(s.kafka, name.lower().removeprefix("kafka_")) for name in files}
    assert taken == {name: tls_files[which] if which else None for name, which in files.items()}
