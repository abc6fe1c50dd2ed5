"""Log filters: a broker outage must not flood the logs with the same aiokafka error, and no key reaches a log
line, in a message or a traceback."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from ota_stream import logs
from ota_stream.logs import KeyRedactor, RepeatLimiter, logging_config


def record(name: str, msg: str = "Unable connect to node with id %s: %s", node: int = 1) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (node, "refused"), None)


def test_one_record_per_template_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: clock[0])
    limiter = RepeatLimiter(interval=10)

    passed = [r for r in (record("aiokafka", node=i % 3) for i in range(5000)) if limiter.filter(r)]
    assert len(passed) == 1 and not hasattr(passed[0], "repeats_suppressed")
    assert limiter.filter(record("aiokafka", "Unable to update metadata from %s"))  # another template passes
    assert limiter.filter(record("aiokafka.conn"))  # and another logger

    clock[0] += 9.9
    assert not limiter.filter(record("aiokafka"))
    clock[0] += 0.2
    later = record("aiokafka")
    assert limiter.filter(later)
    assert later.repeats_suppressed == 5000  # type: ignore[attr-defined]


def test_other_loggers_are_never_held_back() -> None:
    limiter = RepeatLimiter(interval=10)
    assert all(limiter.filter(record("ota_stream.sink", "same %s %s")) for _ in range(100))


def test_the_worker_logging_config_limits_repeats() -> None:
    config = logging_config("INFO")
    handler = config["handlers"]["stdout"]
    assert "repeats" in handler["filters"]
    assert config["filters"]["repeats"]["()"] is RepeatLimiter


def test_keys_are_redacted_from_tracebacks_too() -> None:
    """A key in an exception's text (aiohttp's LineTooLong quotes the request line) is redacted like one in the
    message, and the traceback is still logged."""
    key = f"ota_{'ab' * 8}_{'S' * 43}"
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(KeyRedactor())
    handler.setFormatter(JsonFormatter("%(message)s"))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError(f"bad line: POST /c/{key}/capgo/stats")
    except ValueError:
        logger.exception("Error handling request %s", f"/c/{key}/x", stack_info=True)
    finally:
        logger.removeHandler(handler)
    line = json.loads(written.getvalue())
    assert key not in written.getvalue()
    assert "ota_***" in line["message"] and "ota_***" in line["exc_info"] and "Traceback" in line["exc_info"]
