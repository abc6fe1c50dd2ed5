"""Kafka client options from settings, built once for every client: Faust's, the ingest producer, admin clients.

TLS applies with `SSL` and `SASL_SSL`, SASL with `SASL_PLAINTEXT` and `SASL_SSL`; Faust gets the same TLS context
and credentials as the aiokafka clients, so that no client speaks a different protocol from the others.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from ota_stream.config import KafkaSettings, SecurityProtocol

if TYPE_CHECKING:
    import faust

TLS = (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)
SASL = (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """A verifying TLS context (KAFKA_SSL_CA_FILE, else the system's CAs), or None without TLS."""
    if settings.security_protocol not in TLS:
        return None
    return create_ssl_context(
        cafile=str(settings.ssl_ca_file) if settings.ssl_ca_file else None,
        certfile=str(settings.ssl_cert_file) if settings.ssl_cert_file else None,
        keyfile=str(settings.ssl_key_file) if settings.ssl_key_file else None,
    )


def security_options(settings: KafkaSettings) -> dict[str, Any]:
    """The protocol, TLS context and SASL login of a connection, as aiokafka's clients and connections take them."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol.value}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol in SASL:
        options["sasl_mechanism"] = settings.sasl_mechanism.value
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = _password(settings)
    return options


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's clients (producer, consumer, admin)."""
    return {"bootstrap_servers": settings.bootstrap_servers, **security_options(settings)}


def _password(settings: KafkaSettings) -> str | None:
    return settings.sasl_password.get_secret_value() if settings.sasl_password else None


def faust_credentials(settings: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """Faust's `broker_credentials` for the same protocol, TLS context and SASL login."""
    import faust  # here: the ingest processes use this module's aiokafka options and never load Faust

    context = ssl_context(settings)
    if settings.security_protocol in SASL:
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=_password(settings),
            mechanism=settings.sasl_mechanism.value,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
