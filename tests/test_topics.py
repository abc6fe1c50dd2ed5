"""ResilientTopic: a declare waits out a broker that is away, and still fails on errors waiting cannot fix.

The broker-restart test in test_faults.py shows it on the real pipeline; this pins the rule for each kind of error.
"""

from __future__ import annotations

import asyncio

import faust
import pytest
from aiokafka.errors import (
    InvalidReplicationFactorError,
    KafkaConnectionError,
    NodeNotReadyError,
    TopicAuthorizationFailedError,
)

from ota_stream.kafka import topics
from ota_stream.kafka.topics import ResilientTopic
from ota_stream.kafka.transient import is_transient
from ota_stream.retry import Backoff


def test_transient_errors() -> None:
    assert is_transient(NodeNotReadyError("node 1"))
    assert is_transient(KafkaConnectionError("closed"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    # a single broker answers this while it shuts down (fenced): seen in CI
    assert is_transient(InvalidReplicationFactorError("All brokers are currently fenced"))
    assert not is_transient(TopicAuthorizationFailedError("ota-events"))
    assert not is_transient(ValueError("bad config"))


def flaky_declare(monkeypatch: pytest.MonkeyPatch, errors: list[Exception]) -> list[int]:
    calls: list[int] = []

    async def declare(self: faust.Topic) -> None:
        calls.append(1)
        if errors:
            raise errors.pop(0)

    monkeypatch.setattr(faust.Topic, "declare", declare)
    monkeypatch.setattr(topics, "DECLARE_BACKOFF", Backoff(initial=0.001, maximum=0.001))
    return calls


def test_declare_waits_for_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = flaky_declare(
        monkeypatch, [NodeNotReadyError("1"), KafkaConnectionError("x"), ConnectionResetError()]
    )
    app = faust.App("resilient-test", Topic=ResilientTopic, broker="kafka://127.0.0.1:1")
    topic = app.topic("ota-events")
    assert isinstance(topic, ResilientTopic)
    asyncio.run(topic.declare())
    assert len(calls) == 4


def test_declare_raises_what_waiting_cannot_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = flaky_declare(monkeypatch, [TopicAuthorizationFailedError("ota-events")])
    app = faust.App("resilient-test-2", Topic=ResilientTopic, broker="kafka://127.0.0.1:1")
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(app.topic("ota-events").declare())
    assert len(calls) == 1
