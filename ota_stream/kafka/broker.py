"""Wait for the Kafka cluster before the worker starts.

Faust's producer exits the worker when no broker answers at start-up, so a worker started before Kafka (a
restart of both, pods in any order) would die. `ota-stream worker` first waits for a broker to answer a metadata
request, with backoff, for KAFKA_STARTUP_TIMEOUT_SECONDS. Once started, the worker rides out broker outages.

A broker that answers but refuses this worker (a SASL login it rejects, a TLS certificate that does not verify on
either side, a listener that speaks another protocol) will refuse it again: start-up stops at the first refusal
with a message naming the settings to check, instead of waiting out the timeout. aiokafka's own bootstrap logs
such errors and reports only "Unable to bootstrap", so each bootstrap server is tried here over one connection.
"""

from __future__ import annotations

import asyncio
import ssl
from functools import partial

from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from ota_stream.config import KafkaSettings
from ota_stream.errors import OtaStreamError
from ota_stream.kafka.options import security_options
from ota_stream.retry import Backoff, retry_forever

BACKOFF = Backoff(initial=0.5, maximum=10.0)
# One attempt at one broker; the overall wait is KAFKA_STARTUP_TIMEOUT_SECONDS.
PROBE_TIMEOUT_MS = 10_000


class KafkaNotReachable(OtaStreamError):
    """No broker answered within KAFKA_STARTUP_TIMEOUT_SECONDS (see also KafkaRefused)."""


class KafkaRefused(KafkaNotReachable):
    """A broker answered and refused this worker; waiting longer would not change its answer.

    A subclass of KafkaNotReachable so that whoever stops the worker for one stops it for the other.
    """


def refusal(exc: BaseException, server: str, settings: KafkaSettings) -> str | None:
    """Why the broker at `server` refused us, naming the settings to check; None for an error worth retrying."""
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"Kafka at {server} rejected the SASL {settings.sasl_mechanism.value} login of user "
            f"{settings.sasl_username!r}: {exc}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and "
            "KAFKA_SASL_MECHANISMS"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        mechanism = settings.sasl_mechanism.value
        return f"Kafka at {server} does not offer SASL {mechanism}: {exc}; check KAFKA_SASL_MECHANISMS"
    if isinstance(exc, IllegalSaslStateError):
        return (
            f"Kafka at {server} does not take SASL on this listener; check KAFKA_SECURITY_PROTOCOL "
            f"({settings.security_protocol.value}) against the broker's listener on that port"
        )
    tls = _tls_error(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        ca = settings.ssl_ca_file or "the system's CAs"
        return (
            f"the TLS certificate of Kafka at {server} did not verify against {ca}: {tls.verify_message}; "
            "check KAFKA_SSL_CA_FILE (the CA that signed the broker's certificate) and the host in KAFKA_BROKERS"
        )
    if tls is not None:
        why = getattr(tls, "reason", None) or tls  # OpenSSL's short reason, when the ssl module set one
        return (
            f"Kafka at {server} refused the TLS handshake: {why}; if the broker requires a client certificate, "
            "check KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE"
        )
    return None


def _tls_error(exc: BaseException | None) -> ssl.SSLError | None:
    """A TLS failure in `exc` or its causes (aiokafka wraps a handshake alert in KafkaConnectionError).

    An unexpected EOF or a closed TLS session is what a broker going away looks like, so it is not one.
    """
    while exc is not None:
        if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


async def _answers(settings: KafkaSettings) -> None:
    """Return once one bootstrap server answers a metadata request; raise KafkaRefused at the first refusal."""
    options = security_options(settings)
    error: Exception = KafkaNotReachable("no bootstrap server")
    for host, port, _ in collect_hosts(settings.bootstrap_servers):
        server = f"{host}:{port}"
        try:
            connection = await create_conn(host, port, request_timeout_ms=PROBE_TIMEOUT_MS, **options)
            try:
                await connection.send(MetadataRequest([]))
            finally:
                connection.close()
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            reason = refusal(exc, server, settings)
            if reason is not None:
                raise KafkaRefused(reason) from exc
            error = exc
    raise error


async def wait_for_kafka(settings: KafkaSettings) -> int:
    """Return the number of attempts once a broker answers; raise KafkaNotReachable after the timeout, and
    KafkaRefused at once when a broker refuses this worker."""
    timeout = settings.startup_timeout_seconds
    where = ",".join(settings.bootstrap_servers)
    errors: list[Exception] = []
    waiting = retry_forever(
        partial(_answers, settings),
        f"waiting for Kafka at {where}",
        BACKOFF,
        on_retry=lambda exc, attempt: errors.append(exc),
        retry_if=lambda exc: isinstance(exc, KafkaError | OSError | TimeoutError),
    )
    try:
        _, attempts = await (asyncio.wait_for(waiting, timeout) if timeout else waiting)
    except TimeoutError as exc:
        last = errors[-1] if errors else exc
        raise KafkaNotReachable(f"no Kafka broker answered at {where} within {timeout:g}s: {last}") from exc
    return attempts
