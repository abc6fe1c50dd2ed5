"""One tumbling event-time window of one app, as a JSON value, and how a batch of events updates it.

`position` is the highest (Kafka offset, index in the message) already applied to the window. All events of an
app share a partition and arrive in position order, so an event at or below it is a redelivery and is skipped:
replays never double-count. (Windows written before envelopes hold `offset` alone: their events were index 0.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, NamedTuple

from ota_stream.models import UNKNOWN, EventType
from ota_stream.tables import devices

Window = dict[str, Any]


class LiveRow(NamedTuple):
    """What a window needs of one event."""

    offset: int
    line: int  # index of the event in its Kafka message
    event_type: str
    target_version: str | None
    error_code: str | None
    device_id: str


def window_start(timestamp: float, size: int) -> int:
    return int(timestamp // size) * size


def empty(partition: int) -> Window:
    return {
        "partition": partition,
        "position": [-1, -1],
        "counts": {},
        "installs_by_version": {},
        "failures_by_error": {},
        "devices": devices.empty(),
    }


def applied(window: Window) -> tuple[int, int]:
    if "position" in window:
        offset, index = window["position"]
        return offset, index
    return window["offset"], 0


def apply(window: Window, rows: Sequence[LiveRow]) -> Window | None:
    """The window with `rows` (sorted by position) added; None when every row was applied before."""
    done = applied(window)
    new = [row for row in rows if (row.offset, row.line) > done]
    if not new:
        return None
    counts: Counter[str] = Counter(window["counts"])
    versions: Counter[str] = Counter(window["installs_by_version"])
    errors: Counter[str] = Counter(window["failures_by_error"])
    for row in new:
        counts[row.event_type] += 1
        if row.event_type == EventType.UPDATE_INSTALLED:
            versions[row.target_version or UNKNOWN] += 1
        elif row.event_type == EventType.UPDATE_FAILED:
            errors[row.error_code or UNKNOWN] += 1
    return {
        "partition": window["partition"],
        "position": [new[-1].offset, new[-1].line],
        "counts": dict(counts),
        "installs_by_version": dict(versions),
        "failures_by_error": dict(errors),
        "devices": devices.add(window["devices"], (row.device_id for row in new)),
    }
