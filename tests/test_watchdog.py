"""The stall watchdog's rule, on a fake clock: a partition with lag whose committed offset does not move for
SINK_STALL_SECONDS is stalled, and nothing else is. tests/test_faults.py shows it on a real worker whose sink
cannot write, tests/test_self_healing.py on one whose consumer loses messages."""

from __future__ import annotations

import logging

import pytest

from ota_stream import metrics
from ota_stream.agents.watchdog import Positions, SinkWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Batches:
    """The sink's side: when it last finished a batch (reported, not judged)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last: float | None = None

    def record(self) -> None:
        self.last = self.clock()


def watchdog(clock: Clock, stall: float = 60) -> tuple[SinkWatchdog, Batches]:
    batches = Batches(clock)
    dog = SinkWatchdog(stall, lambda: batches.last, describe=lambda: {"paused": [1]}, clock=clock)
    return dog, batches


def waiting(lag: int, committed: int | None = 100, partition: int = 0) -> Positions:
    """One partition with `lag` messages after its committed offset, and one other partition drained."""
    return {partition: (committed, (committed or 0) + lag), partition + 1: (50, 50)}


def test_lag_without_a_commit_for_the_limit_is_a_stall(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    dog, _ = watchdog(clock)
    assert not dog.observe(waiting(500)).stalled
    clock.now += 59
    assert not dog.observe(waiting(500)).stalled
    assert metrics.PIPELINE_STALLED._value.get() == 0
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="ota_stream.agents.watchdog"):
        verdict = dog.observe(waiting(500))
    assert verdict.stalled and verdict.partitions == (0,)
    assert verdict.reason is not None and "500 messages wait on partitions [0]" in verdict.reason
    assert "have not moved for 60s" in verdict.reason
    assert verdict.as_json()["status"] == "stalled"
    assert metrics.PIPELINE_STALLED._value.get() == 1
    # the log line names the reason and the consumer's state
    assert "pipeline stalled" in caplog.text and "'paused': [1]" in caplog.text


def test_a_commit_restarts_the_clock_and_clears_the_stall(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe(waiting(10))
    clock.now += 61
    assert dog.observe(waiting(10)).stalled
    assert not dog.observe(waiting(8, committed=102)).stalled  # two messages committed
    assert metrics.PIPELINE_STALLED._value.get() == 0
    clock.now += 59
    assert not dog.observe(waiting(8, committed=102)).stalled
    clock.now += 2
    assert dog.observe(waiting(8, committed=102)).stalled


def test_batches_written_without_commits_are_no_progress(clock: Clock) -> None:
    """A partition whose commits are stuck behind a message that never reached the sink (issue 18) stalls, even
    while the sink writes batches of other partitions, or of that partition's messages after the lost one."""
    dog, batches = watchdog(clock)
    dog.observe(waiting(10))
    for _ in range(6):
        clock.now += 11
        batches.record()
        verdict = dog.observe(waiting(10))
    assert verdict.stalled and verdict.partitions == (0,)
    assert verdict.reason is not None and "the sink's last batch was 0s ago" in verdict.reason


def test_only_the_partitions_that_do_not_move_are_stalled(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    moving, still = 0, 100
    dog.observe({0: (moving, 90), 1: (still, 140), 2: (7, 7)})
    for _ in range(4):
        clock.now += 20
        moving += 10
        verdict = dog.observe({0: (moving, moving + 90), 1: (still, 140), 2: (7, 7)})
    assert verdict.stalled and verdict.partitions == (1,)
    assert verdict.reason is not None and "40 messages wait on partitions [1]" in verdict.reason


def test_an_idle_worker_is_not_stalled_when_events_arrive(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    clock.now += 3600  # an hour without events: no batch, no lag
    assert not dog.observe(waiting(0)).stalled
    assert not dog.observe(waiting(25)).stalled  # the clock starts at the first lag, not at the last commit
    clock.now += 30
    assert not dog.observe(waiting(25)).stalled


def test_a_partition_never_committed_stalls_too(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe({0: (None, 12)})
    clock.now += 60
    assert dog.observe({0: (None, 12)}).partitions == (0,)


def test_no_partitions_or_unknown_offsets_are_no_verdict_of_stall(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe(waiting(10))
    clock.now += 120
    assert not dog.observe(None).stalled  # the broker is away: offsets unknown
    assert not dog.observe({}).stalled  # nothing assigned (a rebalance)
    assert not dog.observe(waiting(10)).stalled  # the clock started again when the assignment came back
    clock.now += 60
    assert dog.observe(waiting(10)).stalled


def test_unknown_offsets_keep_the_clock_running(clock: Clock) -> None:
    dog, _ = watchdog(clock)
    dog.observe(waiting(10))
    clock.now += 40
    dog.observe(None)
    clock.now += 20
    assert dog.observe(waiting(10)).stalled
