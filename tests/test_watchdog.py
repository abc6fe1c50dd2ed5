"""The stall watchdog's rule, on a fake clock: lag and no batch for SINK_STALL_SECONDS is a stall, and nothing
else is. tests/test_faults.py shows it on a real worker whose sink cannot write."""

from __future__ import annotations

import logging

import pytest

from ota_stream import metrics
from ota_stream.agents.watchdog import SinkWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Batches:
    """The sink's side: when it last finished a batch."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last: float | None = None

    def record(self) -> None:
        self.last = self.clock()


def watchdog(clock: Clock, stall: float = 60) -> tuple[SinkWatchdog, Batches]:
    batches = Batches(clock)
    dog = SinkWatchdog(stall, lambda: batches.last, describe=lambda: {"paused": [1]}, clock=clock)
    return dog, batches


def test_lag_without_a_batch_for_the_limit_is_a_stall(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    dog, _ = watchdog(clock)
    assert not dog.observe(500, [0, 1]).stalled
    clock.now += 59
    assert not dog.observe(500, [0, 1]).stalled
    assert metrics.PIPELINE_STALLED._value.get() == 0
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="ota_stream.agents.watchdog"):
        verdict = dog.observe(500, [0, 1])
    assert verdict.stalled
    assert verdict.reason is not None and "500 messages wait on partitions [0, 1]" in verdict.reason
    assert verdict.as_json()["status"] == "stalled"
    assert metrics.PIPELINE_STALLED._value.get() == 1
    # the log line names the reason and the consumer's state
    assert "pipeline stalled" in caplog.text and "'paused': [1]" in caplog.text


def test_a_batch_restarts_the_clock_and_clears_the_stall(clock: Clock) -> None:
    dog, progress = watchdog(clock)
    dog.observe(10, [0])
    clock.now += 61
    assert dog.observe(10, [0]).stalled
    progress.record()
    assert not dog.observe(10, [0]).stalled
    assert metrics.PIPELINE_STALLED._value.get() == 0
    clock.now += 59
    assert not dog.observe(10, [0]).stalled
    clock.now += 2
    assert dog.observe(10, [0]).stalled


def test_an_idle_worker_is_not_stalled_when_events_arrive(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    clock.now += 3600  # an hour without events: no batch, no lag
    assert not dog.observe(0, [0, 1]).stalled
    assert not dog.observe(25, [0, 1]).stalled  # the clock starts at the first lag, not at the last batch
    clock.now += 30
    assert not dog.observe(25, [0, 1]).stalled


def test_no_partitions_or_unknown_lag_is_no_verdict_of_stall(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe(10, [0])
    clock.now += 120
    assert not dog.observe(None, [0]).stalled  # the broker is away: lag unknown
    assert not dog.observe(10, []).stalled  # nothing assigned (a rebalance)
    assert not dog.observe(10, [0]).stalled  # the clock started again when the assignment came back
    clock.now += 60
    assert dog.observe(10, [0]).stalled


def test_unknown_lag_keeps_the_clock_running(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe(10, [0])
    clock.now += 40
    dog.observe(None, [0])
    clock.now += 20
    assert dog.observe(10, [0]).stalled
