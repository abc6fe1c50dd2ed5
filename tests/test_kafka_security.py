"""Kafka over TLS and SASL on a real broker: a worker runs over each secured listener (ingest, the ClickHouse sink,
live windows changelogged through Faust's own producer), and wrong credentials stop its start at once, saying why.

One broker with every listener (scripts/kafka/kafka.sh, KAFKA_SECURITY=all) serves all end-to-end cases.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from ota_stream.config import KafkaSettings
from ota_stream.kafka.broker import refusal
from tests.support import expected
from tests.support.certificates import Pair, authority, issue
from tests.support.expected import Window, unique
from tests.support.live import expected_windows, recent_events
from tests.support.processes import Kafka, Worker, free_port, remove, unique_name, wait_for
from tests.support.scenario import post_batches
from tests.support.secured import PORTS_USED, USER, Mode, changelog_messages, secured_broker

APPS = ["app0", "app1", "app2"]
MODES = {
    "tls": Mode("SSL", client_certificate=True),
    "sasl-plain": Mode("SASL_PLAINTEXT", "PLAIN"),
    "sasl-ssl-scram-sha-256": Mode("SASL_SSL", "SCRAM-SHA-256"),
}
# The worker waits this long for a broker that does not answer; a refusal must stop it long before.
STARTUP_TIMEOUT = 300
REFUSED_WITHIN = 60


@pytest.fixture(scope="module")
def broker() -> Iterator[Kafka]:
    directory = Path(tempfile.mkdtemp(prefix="ota-kafka-secured-"))
    started = secured_broker(directory, free_port(pairs=PORTS_USED))
    started.up()
    try:
        yield started
    finally:
        started.down()
        remove(directory)


def make_worker(broker: Kafka, directory: Path, env: dict[str, str]) -> Worker:
    return Worker(directory, broker, unique_name("ota-events"), unique_name("ota-group"), env=env)


@pytest.mark.e2e
@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_a_worker_runs_over_the_secured_listener(broker: Kafka, mode: Mode, tmp_path: Path) -> None:
    worker = make_worker(broker, tmp_path / "w", mode.settings(broker))
    try:
        worker.start()
        events = recent_events(APPS, 240, seed=len(mode.protocol))
        assert post_batches(worker.url, events, size=60) == len(events)
        kept = len(unique(events))

        def processed() -> bool:
            count = worker.health()["metrics"]["events_processed"]
            assert count <= kept
            return count == kept

        wait_for(processed, 90, f"{kept} events processed")

        # The sink wrote them to ClickHouse: analytics count exactly what was sent.
        now = datetime.now(UTC)
        response = requests.get(f"{worker.url}/analytics/adoption", params={"tenant_id": "live"}, timeout=30)
        assert response.status_code == 200, response.text
        counted = response.json()["data"]
        assert counted == expected.adoption(events, Window("live", now - timedelta(days=30), now))
        assert counted["total_updates"] > 0

        # Live windows are in a Faust table; its changelog went out through Faust's producer on this listener.
        for app in APPS:
            key = f"live/o/{app}"
            response = requests.get(f"{worker.url}/live/{key}/windows", params={"last": 60}, timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["data"]["windows"] == expected_windows(events, key, 60)
        windows = sum(len(expected_windows(events, f"live/o/{app}", 60)) for app in APPS)
        wait_for(lambda: changelog_messages(broker, worker.group) >= windows, 30, "the table's changelog")
    finally:
        worker.stop()


WRONG = "not-the-password"
# What a broker refuses: the worker's settings (given the broker and a CA and client certificate the broker does not
# know), and what the worker must say about it.
REFUSALS: dict[str, tuple[Callable[[Kafka, Pair, Pair], dict[str, str]], str]] = {
    "bad-password-plain": (
        lambda broker, ca, client: MODES["sasl-plain"].settings(broker, KAFKA_SASL_PASSWORD=WRONG),
        f"rejected the SASL PLAIN login of user '{USER}'",
    ),
    "bad-password-scram-sha-256": (
        lambda broker, ca, client: MODES["sasl-ssl-scram-sha-256"].settings(
            broker, KAFKA_SASL_PASSWORD=WRONG
        ),
        f"rejected the SASL SCRAM-SHA-256 login of user '{USER}'",
    ),
    "ca-that-did-not-sign-the-broker-tls": (
        lambda broker, ca, client: MODES["tls"].settings(broker, KAFKA_SSL_CA_FILE=str(ca.cert)),
        "did not verify against {ca}: self-signed certificate in certificate chain",
    ),
    "ca-that-did-not-sign-the-broker-sasl-ssl": (
        lambda broker, ca, client: MODES["sasl-ssl-scram-sha-256"].settings(
            broker, KAFKA_SSL_CA_FILE=str(ca.cert)
        ),
        "did not verify against {ca}: self-signed certificate in certificate chain",
    ),
    "client-certificate-the-broker-does-not-trust": (
        lambda broker, ca, client: MODES["tls"].settings(
            broker, KAFKA_SSL_CERT_FILE=str(client.cert), KAFKA_SSL_KEY_FILE=str(client.key)
        ),
        "refused the TLS handshake",
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", REFUSALS)
def test_wrong_credentials_stop_the_start_at_once(broker: Kafka, case: str, tmp_path: Path) -> None:
    rogue = authority(tmp_path / "certs", "rogue-ca")
    settings, message = REFUSALS[case]
    env = settings(broker, rogue, issue(tmp_path / "certs", "rogue-client", rogue))
    worker = make_worker(
        broker, tmp_path / "w", {**env, "KAFKA_STARTUP_TIMEOUT_SECONDS": str(STARTUP_TIMEOUT)}
    )
    worker.start(wait=False)
    assert worker.process is not None
    try:
        code = worker.process.wait(timeout=REFUSED_WITHIN)  # raises TimeoutExpired if it waits for the broker
    finally:
        worker.stop()
    log = worker.log_tail(200)
    assert code == 1, log
    assert message.format(ca=rogue.cert) in log, log
    assert "no Kafka broker answered" not in log and "Traceback" not in log, log


def _caused_by(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        KafkaConnectionError("Connection at 127.0.0.1:9092 closed"),
        TimeoutError(),
        # A broker that stops in the middle of a TLS handshake: an EOF, not a refusal.
        _caused_by(
            KafkaConnectionError("closed"), ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
        ),
    ],
    ids=["connection-refused", "connection-closed", "timeout", "eof-during-tls"],
)
def test_a_broker_that_is_away_is_waited_for(error: Exception) -> None:
    assert refusal(error, "127.0.0.1:9092", KafkaSettings()) is None


def test_a_refusal_names_the_settings_to_check() -> None:
    settings = KafkaSettings.model_validate(
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanisms": "SCRAM-SHA-256",
            "sasl_username": "u",
            "sasl_password": "p",
        }
    )
    said = refusal(SaslAuthenticationFailed("Authentication failed"), "h:1", settings)
    assert said is not None and "SCRAM-SHA-256 login of user 'u'" in said and "KAFKA_SASL_PASSWORD" in said
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    said = refusal(_caused_by(KafkaConnectionError("closed"), alert), "h:1", settings)
    assert said is not None and "refused the TLS handshake" in said and "KAFKA_SSL_CERT_FILE" in said
