"""The one error shape of the API (docs/api.md#errors), and the middleware that guarantees it.

`{"error": {"code", "message", "details": [{"field", "message"}]}}`, for our own errors, for aiohttp's (404,
405, 413) and, as a last resort, for a bug: that is logged and answered 500 in the same shape.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from ota_stream import logs
from ota_stream.errors import OtaStreamError, Unavailable
from ota_stream.models import FieldError

log = logging.getLogger(__name__)
# Aborted uploads: INFO, and at most one line per interval however many (logs.py, RepeatLimiter).
aborted_log = logging.getLogger("ota_stream.web.aborted")

_CODES = {
    400: "invalid_json",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    500: "internal_error",
    503: "service_unavailable",
}


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


class ApiError(OtaStreamError):
    """Raised by a view to answer with the error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        details: Iterable[FieldError] = (),
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [d.as_dict() for d in self.details],
            }
        }
        return json_response(body, self.status, self.headers)


class BodyAborted(OtaStreamError):
    """The client closed its connection before its body ended: nobody is left to answer, and nothing is wrong here.
    Logged at INFO without a traceback, at most once an interval (each one was an ERROR traceback: a way to flood
    the logs)."""


def unavailable(exc: Unavailable) -> ApiError:
    """503 with Retry-After: the one answer for everything that is away for now (ota_stream/errors.py)."""
    return ApiError(503, exc.public_message, headers={"Retry-After": str(exc.retry_after_seconds)})


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", [FieldError(field, message)])


# Request ids made here: a random prefix per process and a counter, 32 hex digits like a UUID's, unique without
# asking the OS for randomness on every request.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response gets the error shape when it fails, and an X-Request-ID that the logs carry too."""
    request_id = (request.headers.get("X-Request-ID") or new_request_id())[:64]
    token = logs.request_id.set(request_id)
    try:
        response = await _handle(request, handler, request_id)
    finally:
        logs.request_id.reset(token)
    response.headers["X-Request-ID"] = request_id
    return response


async def _handle(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except Unavailable as exc:
        if exc.logged:
            log.warning("%s %s: %s", request.method, request.path, exc)
        response = unavailable(exc).response()
    except BodyAborted:
        aborted_log.info(
            "%s %s: the client closed the connection before its body ended", request.method, request.path
        )
        response = ApiError(400, "the connection closed before the body ended").response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason if exc.status != 413 else "the request body is too large"
        response = ApiError(exc.status, message).response()
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = ApiError(500, "internal error; see the worker log", code="internal_error").response()
    if not log.isEnabledFor(logging.DEBUG):
        return response
    log.debug(
        "%s %s %d",
        request.method,
        request.path,
        response.status,
        extra={"status": response.status, "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
    )
    return response
