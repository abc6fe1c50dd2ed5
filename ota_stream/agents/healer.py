"""The stall watchdog's hands: a consumer stall is acted on, first by a re-seek, then by a rejoin of the group.

A stall verdict (watchdog.py) says only that some partition has lag and its committed offset does not move.
Several causes are outside the consumer and no consumer remedy helps them: ClickHouse away (the sink holds a batch
and retries its insert), a storage that never opened (the sink has not started), a rebalance or a table recovery
under way (which seek every partition themselves). Re-seeking or rejoining then would only churn the group. So the
healer acts only on a consumer stall:

- the watchdog's verdict is `stalled`: a partition with lag has not committed for SINK_STALL_SECONDS;
- the sink has been well for SINK_STALL_SECONDS, as observed at every tick: it runs (its storage is open), no
  write of it (to ClickHouse, or of a dead letter) failed within that long, it has not held one batch for that long,
  and no rebalance or table recovery was under way. So whatever does not reach it is held back by the consumer; and
  a sink that has just finished the batch it held through a ClickHouse outage gets a period for its commit to show.

Then the stalled partitions are re-sought to their committed offsets (kafka/healing.py). If a period later the
stall is still there, the worker rejoins its consumer group, which resets all of Faust's consumer state as a
restart would, keeps its tables and its ingest up, and costs the group one rebalance. It never exits on its own:
a supervisor's restart would cost more and heal nothing a rejoin does not. While a stall outlasts its remedies
they are tried again, the wait doubling after each rejoin (up to 16 periods), so that a stall no remedy heals
does not rebalance the group every other minute. Each action counts in `ota_pipeline_heal_actions_total{action}`
and writes a WARNING line; the next stall starts again with a re-seek.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from ota_stream import metrics
from ota_stream.agents.watchdog import Clock, Verdict

log = logging.getLogger(__name__)
RESEEK, REJOIN = "reseek", "rejoin"
MAX_WAIT_PERIODS = 16


class SinkActivity(Protocol):
    """What the healer reads of the sink (agents/sink.py `SinkStats`), as `clock` times."""

    started_at: float | None  # the sink began to take events; None until its storage is open
    batch_started_at: float | None  # the batch in hand started; None between batches
    last_retry_at: float | None  # a write of the sink last failed


class Remedies(Protocol):
    """kafka/healing.py's actions on this worker's partitions of the events topic."""

    async def reseek(self, partitions: Iterable[int]) -> Mapping[int, int | None]:
        """Re-seek `partitions`; returns partition -> the committed offset sought."""

    async def rejoin(self) -> None: ...


class Healer:
    def __init__(
        self,
        period: float,
        sink: SinkActivity,
        remedies: Remedies,
        reorganizing: Callable[[], bool],
        clock: Clock = time.monotonic,
    ) -> None:
        """`period`: SINK_STALL_SECONDS. `reorganizing`: whether a rebalance or a table recovery is under way."""
        self.period = period
        self.sink = sink
        self.remedies = remedies
        self.reorganizing = reorganizing
        self.clock = clock
        self.last_action: str | None = None
        self._acted_at: float | None = None
        self._rejoins = 0  # in this stall
        self._well_since: float | None = None  # since when the sink has been well, as far as observed

    def sink_well(self, now: float) -> bool:
        """The sink runs, holds no batch for a period, has had no failed write within one, and nothing reorganizes."""
        sink = self.sink
        running = sink.started_at is not None
        stuck = sink.batch_started_at is not None and now - sink.batch_started_at >= self.period
        retrying = sink.last_retry_at is not None and now - sink.last_retry_at < self.period
        return running and not stuck and not retrying and not self.reorganizing()

    async def observe(self, verdict: Verdict) -> str | None:
        """Take the watchdog's latest verdict (every few seconds); returns the action taken now, if any."""
        now = self.clock()
        if not self.sink_well(now):
            self._well_since = None
        elif self._well_since is None:
            self._well_since = now
        if not verdict.stalled:
            if self.last_action is not None:
                log.warning("pipeline moving again after the %s", self.last_action)
            self.last_action, self._acted_at, self._rejoins = None, None, 0
            return None
        if self._well_since is None or now - self._well_since < self.period:
            return None  # not a consumer stall, or not yet shown to be one
        wait = self.period * min(2**self._rejoins, MAX_WAIT_PERIODS)
        if self._acted_at is not None and now - self._acted_at < wait:
            return None
        action = REJOIN if self.last_action == RESEEK else RESEEK
        self.last_action, self._acted_at = action, now
        self._rejoins += action == REJOIN
        metrics.HEAL_ACTIONS.labels(action).inc()
        try:
            if action == RESEEK:
                sought = await self.remedies.reseek(verdict.partitions)
                log.warning("consumer stall (%s): re-sought to committed offsets %s", verdict.reason, sought)
            else:
                log.warning(
                    "consumer stall (%s): the re-seek did not help; rejoining the group", verdict.reason
                )
                await self.remedies.rejoin()
        except Exception as exc:  # the next remedy follows a period later; the stall stays reported meanwhile
            log.exception("consumer stall: the %s failed: %r", action, exc)
        return action
