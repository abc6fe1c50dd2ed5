"""Stall watchdog: a worker whose partitions have lag while its sink writes nothing says so.

A worker once kept answering /health "healthy" for minutes while thousands of acknowledged events waited in
Kafka and no batch was written (issue 18). Whatever the cause of such a stall, it must not be silent: when this
worker's partitions of the events topic have lag and the sink has finished no batch for `SINK_STALL_SECONDS`,
the watchdog marks the pipeline stalled: /health answers `degraded` with the reason, the gauge
`ota_pipeline_stalled` reads 1, and a log line (repeated every `SINK_STALL_SECONDS` while it lasts) gives the
reason and the consumer's state, the first things to look at.

It reads when the sink last finished a batch from the sink's stats; the lag is observed every few seconds by the
app's lag timer through `observe()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ota_stream import metrics

log = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Verdict:
    stalled: bool
    reason: str | None = None
    seconds_since_last_batch: float | None = None

    def as_json(self) -> dict[str, Any]:
        since = self.seconds_since_last_batch
        return {
            "status": "stalled" if self.stalled else "healthy",
            "reason": self.reason,
            "seconds_since_last_batch": round(since, 1) if since is not None else None,
        }


class SinkWatchdog:
    """Judges, from periodic lag observations and the sink's progress, whether the pipeline is stalled.

    The stall clock runs from the later of the last batch and the first observation of lag (since lag was last
    seen at zero), so that a worker that was idle for an hour is not called stalled the moment events arrive.
    """

    def __init__(
        self,
        stall_seconds: float,
        last_batch: Callable[[], float | None],
        describe: Callable[[], Mapping[str, Any]] = dict,
        clock: Clock = time.monotonic,
    ) -> None:
        """`last_batch`: the `clock` time the sink last finished a batch, None before the first (the start of
        the watchdog counts as one)."""
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.started = clock()
        self.last_batch = last_batch
        self.describe = describe  # the consumer's state, for the log line
        self.verdict = Verdict(stalled=False)
        self._lagging_since: float | None = None
        self._logged_at: float | None = None
        metrics.PIPELINE_STALLED.set(0)

    def observe(self, lag: int | None, assigned: list[int]) -> Verdict:
        """Take one observation of the lag (None: unknown, e.g. the broker is away) on the assigned partitions."""
        now = self.clock()
        last = self.last_batch()
        last = self.started if last is None else last
        since_batch = now - last
        if lag == 0 or not assigned:
            self._lagging_since = None
        if not lag or not assigned:
            # Nothing waits, or we cannot tell: no stall. An unknown lag keeps the clock running, so that a broker
            # that answers only now and then does not hide a stall.
            return self._set(Verdict(stalled=False, seconds_since_last_batch=since_batch), now)
        if self._lagging_since is None:
            self._lagging_since = now
        waited = now - max(last, self._lagging_since)
        if waited < self.stall_seconds:
            return self._set(Verdict(stalled=False, seconds_since_last_batch=since_batch), now)
        reason = (
            f"the sink has written no batch for {waited:.0f}s while {lag} messages wait on partitions "
            f"{assigned} (SINK_STALL_SECONDS={self.stall_seconds:g})"
        )
        return self._set(Verdict(stalled=True, reason=reason, seconds_since_last_batch=since_batch), now)

    def _set(self, verdict: Verdict, now: float) -> Verdict:
        was = self.verdict.stalled
        self.verdict = verdict
        metrics.PIPELINE_STALLED.set(1 if verdict.stalled else 0)
        if verdict.stalled and (
            not was or self._logged_at is None or now - self._logged_at >= self.stall_seconds
        ):
            self._logged_at = now
            log.error("pipeline stalled: %s; consumer state: %s", verdict.reason, _safe(self.describe))
        elif was and not verdict.stalled:
            self._logged_at = None
            log.warning("pipeline no longer stalled")
        return verdict


def _safe(describe: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any] | str:
    try:
        return describe()
    except Exception as exc:  # the log line must come out even if the snapshot cannot be taken
        return f"unavailable: {exc!r}"
