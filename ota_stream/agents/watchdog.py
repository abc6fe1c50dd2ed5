"""Stall watchdog: a partition with lag whose committed offset does not move is stalled, and the worker says so.

A worker once kept answering /health "healthy" for minutes while thousands of acknowledged events waited in
Kafka and no batch was written (issue 18). Whatever the cause of such a stall, it must not be silent: when one of
this worker's partitions of the events topic has lag and its committed offset has not moved for
`SINK_STALL_SECONDS`, the watchdog marks the pipeline stalled: /health answers `degraded` with the reason, the
gauge `ota_pipeline_stalled` reads 1, and a log line (repeated every `SINK_STALL_SECONDS` while it lasts) gives the
reason and the consumer's state, the first things to look at. The healer (healer.py) then decides whether the
consumer is to blame and acts.

Progress is the committed offset of each partition, not a batch written: offsets are committed only after the
sink has written what they cover, so a partition that moves is drained, and one that does not is stalled even
while batches of other partitions, or of its own messages past a gap, are written. The app's lag timer reads the
committed and end offsets every few seconds and passes them to `observe()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ota_stream import metrics
from ota_stream.kafka.consumer import lag_of

log = logging.getLogger(__name__)
Clock = Callable[[], float]
# partition -> (committed offset, None before the first commit; end offset)
Positions = Mapping[int, tuple[int | None, int]]


@dataclass(frozen=True)
class Verdict:
    stalled: bool
    reason: str | None = None
    seconds_since_last_batch: float | None = None
    partitions: tuple[int, ...] = ()  # the stalled ones

    def as_json(self) -> dict[str, Any]:
        since = self.seconds_since_last_batch
        return {
            "status": "stalled" if self.stalled else "healthy",
            "reason": self.reason,
            "seconds_since_last_batch": round(since, 1) if since is not None else None,
        }


class SinkWatchdog:
    """Judges, from periodic observations of each partition's committed and end offsets, whether it is stalled.

    A partition's clock runs from the later of its last commit and the first observation of its lag (since it was
    last seen without lag), so that a worker that was idle for an hour is not called stalled the moment events
    arrive.
    """

    def __init__(
        self,
        stall_seconds: float,
        last_batch: Callable[[], float | None],
        describe: Callable[[], Mapping[str, Any]] = dict,
        clock: Clock = time.monotonic,
    ) -> None:
        """`last_batch`: the `clock` time the sink last finished a batch, None before the first (the start of
        the watchdog counts as one); it is reported, not judged."""
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.started = clock()
        self.last_batch = last_batch
        self.describe = describe  # the consumer's state, for the log line
        self.verdict = Verdict(stalled=False)
        self._still: dict[int, tuple[int | None, float]] = {}  # partition with lag -> (committed, since when)
        self._logged_at: float | None = None
        metrics.PIPELINE_STALLED.set(0)

    def observe(self, positions: Positions | None) -> Verdict:
        """Take one observation of this worker's partitions (None: unknown, e.g. the broker is away)."""
        now = self.clock()
        last = self.last_batch()
        since_batch = now - (self.started if last is None else last)
        if positions is None:
            # We cannot tell: no stall. The clocks keep running, so that a broker that answers only now and then
            # does not hide a stall.
            return self._set(Verdict(stalled=False, seconds_since_last_batch=since_batch), now)
        stalled: list[tuple[int, int, float]] = []  # (partition, lag, seconds without a commit)
        for partition in set(self._still) - set(positions):
            del self._still[partition]  # no longer this worker's
        for partition, (committed, end) in sorted(positions.items()):
            lag = lag_of(committed, end)
            seen = self._still.get(partition)
            if not lag:
                self._still.pop(partition, None)
            elif seen is None or seen[0] != committed:
                self._still[partition] = (committed, now)
            elif now - seen[1] >= self.stall_seconds:
                stalled.append((partition, lag, now - seen[1]))
        if not stalled:
            return self._set(Verdict(stalled=False, seconds_since_last_batch=since_batch), now)
        partitions = tuple(partition for partition, _, _ in stalled)
        reason = (
            f"{sum(lag for _, lag, _ in stalled)} messages wait on partitions {list(partitions)}, whose committed "
            f"offsets have not moved for {max(waited for _, _, waited in stalled):.0f}s "
            f"(SINK_STALL_SECONDS={self.stall_seconds:g}); the sink's last batch was {since_batch:.0f}s ago"
        )
        return self._set(Verdict(True, reason, since_batch, partitions), now)

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
