"""The log repeat limiter: a broker outage must not flood the logs with the same aiokafka error."""

from __future__ import annotations

import logging

import pytest

from ota_stream import logs
from ota_stream.logs import RepeatLimiter, logging_config


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
