"""The healer's rule, on a fake clock: only a consumer stall is acted on, first by a re-seek of the stalled
partitions, a period later by a rejoin; a sink stuck in one batch or failing its writes (ClickHouse away), a sink
not started, or a rebalance under way is left alone, and so is a sink for a period after any of these. The
fixture's healer has observed a well sink at the start (it observes every few seconds from the worker's start).
tests/test_self_healing.py shows both remedies on a real worker."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from ota_stream import metrics
from ota_stream.agents.healer import Healer
from ota_stream.agents.watchdog import SinkWatchdog, Verdict
from tests.test_watchdog import Clock

STALLED = Verdict(stalled=True, reason="7 messages wait on partitions [2]", partitions=(2,))
MOVING = Verdict(stalled=False)
PERIOD = 60.0


@dataclass
class Sink:
    started_at: float | None = None
    batch_started_at: float | None = None
    last_retry_at: float | None = None


@dataclass
class Remedies:
    calls: list[str] = field(default_factory=list)
    fail: bool = False

    async def reseek(self, partitions: Iterable[int]) -> dict[int, int | None]:
        self.calls.append(f"reseek {sorted(partitions)}")
        if self.fail:
            raise RuntimeError("the broker went away")
        return dict.fromkeys(partitions, 41)

    async def rejoin(self) -> None:
        self.calls.append("rejoin")


@dataclass
class Setup:
    clock: Clock
    sink: Sink
    remedies: Remedies
    healer: Healer
    rebalancing: list[bool]


@pytest.fixture
async def setup() -> Setup:
    clock = Clock()
    sink = Sink(started_at=clock.now)  # the sink runs
    remedies = Remedies()
    rebalancing = [False]
    healer = Healer(PERIOD, sink, remedies, lambda: rebalancing[0], clock)
    assert await healer.observe(MOVING) is None
    return Setup(clock, sink, remedies, healer, rebalancing)


def actions() -> dict[str, float]:
    return {action: metrics.HEAL_ACTIONS.labels(action)._value.get() for action in metrics.HEALING_ACTIONS}


async def test_a_consumer_stall_is_reseeked_then_rejoined_a_period_apart(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    before = actions()
    setup.clock.now += PERIOD
    with caplog.at_level(logging.WARNING, logger="ota_stream.agents.healer"):
        assert await setup.healer.observe(STALLED) == "reseek"
    assert "re-sought to committed offsets {2: 41}" in caplog.text
    setup.clock.now += PERIOD - 1
    assert await setup.healer.observe(STALLED) is None  # the re-seek gets a whole period to show
    setup.clock.now += 1
    assert await setup.healer.observe(STALLED) == "rejoin"
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) is None  # after a rejoin, the remedies come half as often
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "reseek"  # the ladder again, while the stall lasts
    assert setup.remedies.calls == ["reseek [2]", "rejoin", "reseek [2]"]
    after = actions()
    assert (after["reseek"] - before["reseek"], after["rejoin"] - before["rejoin"]) == (2, 1)


async def test_remedies_that_do_not_heal_come_ever_more_rarely(setup: Setup) -> None:
    moments = []
    for _ in range(80 * 4):
        setup.clock.now += PERIOD / 4
        if await setup.healer.observe(STALLED):
            moments.append(round((setup.clock.now - 1000) / PERIOD))
    # re-seek, rejoin a period later, then waits of 2, 2, 4, 4, 8, 8 periods, and never more than 16
    assert moments == [1, 2, 4, 6, 10, 14, 22, 30, 46, 62, 78]


async def test_a_cleared_verdict_starts_the_ladder_again(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "reseek"
    with caplog.at_level(logging.WARNING, logger="ota_stream.agents.healer"):
        assert await setup.healer.observe(MOVING) is None
    assert "pipeline moving again after the reseek" in caplog.text
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "reseek"  # a new stall: the mild remedy first
    assert setup.remedies.calls == ["reseek [2]", "reseek [2]"]


async def test_a_sink_stuck_in_a_batch_is_left_alone(setup: Setup) -> None:
    """ClickHouse away: the sink retries the insert of the batch in hand, and lag grows. No consumer remedy, and
    none for a period after the batch is written at last: its commit comes within a second or two."""
    setup.sink.batch_started_at = setup.clock.now
    for _ in range(10):
        setup.clock.now += PERIOD
        assert await setup.healer.observe(STALLED) is None
    setup.sink.batch_started_at = None  # written at last; the verdict has not seen the commit yet
    setup.clock.now += 1
    assert await setup.healer.observe(STALLED) is None
    setup.clock.now += PERIOD - 1
    assert await setup.healer.observe(STALLED) is None  # a period of being well starts at the first tick
    setup.clock.now += 1
    assert await setup.healer.observe(STALLED) == "reseek"  # still not moving: the consumer's
    assert setup.remedies.calls == ["reseek [2]"]


async def test_a_batch_in_hand_for_less_than_a_period_is_no_excuse(setup: Setup) -> None:
    """A busy sink always holds a batch; one partition that does not commit meanwhile is the consumer's."""
    setup.clock.now += PERIOD
    setup.sink.batch_started_at = setup.clock.now - PERIOD / 2
    assert await setup.healer.observe(STALLED) == "reseek"


async def test_a_sink_whose_writes_fail_is_left_alone(setup: Setup) -> None:
    """ClickHouse away, the first moments: the batch in hand is young, but its insert has failed."""
    setup.sink.batch_started_at = setup.clock.now
    setup.clock.now += PERIOD / 2
    setup.sink.last_retry_at = setup.clock.now
    setup.clock.now += PERIOD / 2
    assert await setup.healer.observe(STALLED) is None
    setup.sink.batch_started_at = None  # written at last, but a partition still does not move
    setup.clock.now += PERIOD / 2
    assert await setup.healer.observe(STALLED) is None  # no failure for a period now: well from here
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "reseek"


async def test_a_sink_that_never_started_is_left_alone(setup: Setup) -> None:
    """ClickHouse away at start: the sink waits for its storage, and never takes an event."""
    setup.sink.started_at = None
    setup.clock.now += 10 * PERIOD
    assert await setup.healer.observe(STALLED) is None
    assert setup.remedies.calls == []


async def test_nothing_is_done_during_a_rebalance_or_a_recovery(setup: Setup) -> None:
    setup.rebalancing[0] = True
    setup.clock.now += 5 * PERIOD
    assert await setup.healer.observe(STALLED) is None
    setup.rebalancing[0] = False
    assert (
        await setup.healer.observe(STALLED) is None
    )  # the rebalance sought every partition: a period to show
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "reseek"


async def test_no_verdict_no_action(setup: Setup) -> None:
    setup.clock.now += 10 * PERIOD
    assert await setup.healer.observe(MOVING) is None
    assert setup.remedies.calls == []


async def test_a_failed_reseek_is_followed_by_a_rejoin(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.remedies.fail = True
    setup.clock.now += PERIOD
    with caplog.at_level(logging.ERROR, logger="ota_stream.agents.healer"):
        assert await setup.healer.observe(STALLED) == "reseek"
    assert "the reseek failed" in caplog.text
    setup.clock.now += PERIOD
    assert await setup.healer.observe(STALLED) == "rejoin"


async def test_with_the_watchdog_the_first_remedy_comes_with_the_stall_verdict(setup: Setup) -> None:
    """Lag appears on partition 2 and its commits stop: the verdict comes a period later, and the re-seek of
    partition 2 with it."""
    dog = SinkWatchdog(PERIOD, lambda: None, clock=setup.clock)
    positions = {1: (30, 30), 2: (41, 48)}
    assert await setup.healer.observe(dog.observe(positions)) is None
    setup.clock.now += PERIOD / 2
    assert await setup.healer.observe(dog.observe(positions)) is None
    setup.clock.now += PERIOD / 2
    assert await setup.healer.observe(dog.observe(positions)) == "reseek"
    assert setup.remedies.calls == ["reseek [2]"]
