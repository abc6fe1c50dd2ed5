"""What every HTTP process puts around its routes: errors in one shape, CORS, keys (web/auth.py), and device
ids pseudonymised for ingest; and how its server reads requests. The worker and the ingest processes build theirs
here, the same way."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ota_stream.auth.keys import KeyScope
from ota_stream.auth.privacy import DeviceIds
from ota_stream.auth.store import KeyStore
from ota_stream.config import AuthSettings, HttpSettings, KafkaSettings
from ota_stream.web.auth import Guard
from ota_stream.web.body import body_deadline
from ota_stream.web.cors import cors_middleware
from ota_stream.web.errors import error_middleware

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Security:
    keys: KeyStore  # a mode Service: the process starts it (Faust: app.add_dependency)
    guard: Guard
    device_ids: DeviceIds | None
    cors_origins: frozenset[str]
    body_timeout: float  # HTTP_BODY_TIMEOUT_SECONDS

    def middlewares(self) -> list[Any]:
        """Outermost first: the error shape wraps everything, CORS answers preflights before any key is asked."""
        return [
            error_middleware,
            body_deadline(self.body_timeout),
            cors_middleware(self.cors_origins),
            self.guard.middleware,
        ]


def security(
    auth: AuthSettings,
    kafka: KafkaSettings,
    http: HttpSettings,
    enforce: frozenset[KeyScope] = frozenset(KeyScope),
) -> Security:
    if not auth.auth_required:
        log.warning("AUTH_REQUIRED=false: every route is open, keys are ignored; for local experiments only")
    keys = KeyStore(kafka, auth.admin_api_key)
    hmac_key = auth.device_id_hmac_key
    device_ids = DeviceIds(hmac_key.get_secret_value().encode()) if hmac_key else None
    guard = Guard(auth, keys, enforce)
    return Security(keys, guard, device_ids, auth.cors_origins, http.http_body_timeout_seconds)


def server_options(settings: HttpSettings, facing_clients: bool = True) -> dict[str, Any]:
    """Keyword arguments for aiohttp's request handler, in the worker (Faust's `handler_args`) and in ingest
    processes (their runner).

    - Bodies are never inflated: an encoded body is refused with 415 before it is read (web/body.py), and aiohttp's
      own decoding came first otherwise (an encoding it lacks was a plain-text 400 with a logged traceback).
    - A server that clients connect to closes a connection that has not sent a whole request head within
      HTTP_HEADER_TIMEOUT_SECONDS of opening or of its last answer. aiohttp's keep-alive timer is the one that runs
      from the connection's start, so an idle keep-alive connection closes after as long. A worker behind ingest
      processes keeps aiohttp's default: its only client is their pool of connections.
    """
    options: dict[str, Any] = {"auto_decompress": False}
    if facing_clients:
        options["keepalive_timeout"] = settings.http_header_timeout_seconds
    return options
