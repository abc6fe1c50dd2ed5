"""What a rule reads from the live windows of one app, and when that reading is a breach. Pure functions.

Definitions (docs/alerts.md repeats them for users), with S = LIVE_WINDOW_SECONDS and N = the fewest whole windows
that cover `window_minutes` (`rules.windows_in`):

- The **period** is the last N *closed* windows: `[end - N*S, end)`, where `end` is the start of the window that
  holds the current time. The window still open is never read, so a reading does not swing while a window fills.
  The payload's `window` is this period, `{"start", "end"}` in RFC 3339.
- `failure_rate` = `update_failed / (update_installed + update_failed)` over the period, as a rate of
docs/api.md#analytics
  (`round(100 * a / b, 2)`, 0 when b is 0). `min_events` gates on the denominator: with fewer installs and
  failures than that, the rule is not breached (too little data), whatever the rate.
- `rollback_rate` = `rollback_completed / update_installed` over the period, as a rate; `min_events` gates on the
  installs.
- A rate rule is breached when the gate is met and the value is **above** `threshold` (percent); it resolves as
  soon as it is not (the rate fell to the threshold or below, or the period holds fewer than `min_events`).
- `ingest_silence`: the value is the number of events of any type in the period. It fires when the previous
  period (the N windows before) held at least `min_events` events and the period holds `threshold` or fewer
  (0 by default): an app that was sending has stopped. It resolves when the period holds more than `threshold`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ota_stream.alerts.rules import AlertRule, Metric, windows_in
from ota_stream.models import EventType
from ota_stream.tables import windows

Counts = Mapping[str, int]
WindowCounts = Callable[[int], Counts | None]  # a window's `counts` by its start, None when it has no data


@dataclass(frozen=True)
class Reading:
    value: float
    gate: int  # the events that min_events is compared with
    start: int  # the period, [start, end) in epoch seconds
    end: int
    previous: int = 0  # ingest_silence: events in the period before


def rate(part: int, whole: int) -> float:
    """docs/api.md#analytics: round(100 * a / b, 2), and 0 when b is 0."""
    return round(100 * part / whole, 2) if whole else 0.0


def total(counts_of: WindowCounts, start: int, end: int, size: int) -> Counter[str]:
    summed: Counter[str] = Counter()
    for window in range(start, end, size):
        summed.update(counts_of(window) or {})
    return summed


def read(rule: AlertRule, counts_of: WindowCounts, now: float, size: int) -> Reading:
    end = windows.window_start(now, size)
    start = end - windows_in(rule.window_minutes, size) * size
    counts = total(counts_of, start, end, size)
    installed, failed = counts[EventType.UPDATE_INSTALLED], counts[EventType.UPDATE_FAILED]
    if rule.metric is Metric.FAILURE_RATE:
        return Reading(rate(failed, installed + failed), installed + failed, start, end)
    if rule.metric is Metric.ROLLBACK_RATE:
        return Reading(rate(counts[EventType.ROLLBACK_COMPLETED], installed), installed, start, end)
    events = sum(counts.values())
    previous = sum(total(counts_of, start - (end - start), start, size).values())
    return Reading(float(events), events, start, end, previous)


def breached(rule: AlertRule, reading: Reading, firing: bool) -> bool:
    """Whether the alert should be firing after this reading, given whether it is firing now."""
    if rule.metric is Metric.INGEST_SILENCE:
        silent = reading.value <= rule.threshold
        return silent if firing else silent and reading.previous >= rule.min_events
    return reading.gate >= rule.min_events and reading.value > rule.threshold
