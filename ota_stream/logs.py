"""JSON logs, one object per line, with the request id of the HTTP request being served (if any).

Faust takes `logging_config` from the app's settings, so `faust -A ota_stream.app worker` and `ota-stream
worker` log the same way. LOG_LEVEL sets the level.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from ota_stream.auth.keys import redact

# While the broker is away, aiokafka's clients log the same connection error thousands of times a second
# (150,000 lines in 20 s, measured in the broker-restart test), and clients that send malformed requests or abort
# their uploads on purpose could do the same; one line per message per interval is enough.
REPEAT_INTERVAL_SECONDS = 10.0

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


_TRACEBACKS = logging.Formatter()


class KeyRedactor(logging.Filter):
    """No log line holds a key, including a key that a client put in a `/c/{ingest_key}/…` path and that a line
    quotes with the path: in the message, in the traceback (aiohttp's LineTooLong quotes the request line) and in
    the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info:  # formatted here, once, so that the formatter prints the redacted text
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RefusedRequests(logging.Filter):
    """aiohttp logs each request it refuses as malformed (a 400 before any route: a request line or header over
    8 KiB, a bad method, a broken chunk) as an ERROR with a traceback. That is the client's fault, and a client
    could repeat it to flood the logs: it becomes one INFO line naming the reason, which RepeatLimiter holds to one
    an interval."""

    def filter(self, record: logging.LogRecord) -> bool:
        refused = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(refused, HttpProcessingError):
            what = record.getMessage()
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = (
                "%s: refused a malformed request: %s",
                (what, f"{type(refused).__name__}: {refused}"),
            )
            record.exc_info, record.exc_text = None, None
        return True


class RepeatLimiter(logging.Filter):
    """Passes one record per (logger, level, message template) of the given loggers every `interval` seconds.

    The next record that passes carries `repeats_suppressed`, the number held back since the last one.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("aiokafka", "aiohttp.server", "ota_stream.web.aborted"),
        interval: float = REPEAT_INTERVAL_SECONDS,
    ):
        super().__init__()
        self.prefixes = prefixes
        self.interval = interval
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()  # records arrive from Faust's consumer thread too

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            passed_at, held = self._last.get(key, (-self.interval, 0))
            if now - passed_at < self.interval:
                self._last[key] = (passed_at, held + 1)
                return False
            self._last[key] = (now, 0)
        if held:
            record.repeats_suppressed = held
        return True


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the root logger: JSON to stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "refused": {"()": RefusedRequests},
            "request_id": {"()": RequestIdFilter},
            "repeats": {"()": RepeatLimiter},
            "keys": {"()": KeyRedactor},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["refused", "repeats", "request_id", "keys"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        # Audit lines (one per read, export and admin request, docs/security.md) are written whatever LOG_LEVEL says.
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "faust": {"level": level},
            "ota_stream.audit": {"level": "INFO"},
        },
    }
