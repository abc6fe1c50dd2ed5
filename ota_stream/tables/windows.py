"""One tumbling event-time window of one app, as a JSON value, and how a batch of events updates it.

`offset` is the highest Kafka offset already applied to the window. All events of an app share a partition and
arrive in offset order, so an event at or below it is a redelivery and is skipped: replays never double-count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ota_stream.models import EventType
from ota_stream.storage.events_table import SourcedEvent
from ota_stream.tables import devices

UNKNOWN = "unknown"
Window = dict[str, Any]


def window_start(timestamp: float, size: int) -> int:
    return int(timestamp // size) * size


def empty(partition: int) -> Window:
    return {
        "partition": partition,
        "offset": -1,
        "counts": {},
        "installs_by_version": {},
        "failures_by_error": {},
        "devices": devices.empty(),
    }


def apply(window: Window, items: Sequence[SourcedEvent]) -> Window | None:
    """The window with `items` (sorted by offset) added; None when every item was applied before."""
    new = [item for item in items if item.offset > window["offset"]]
    if not new:
        return None
    counts: Counter[str] = Counter(window["counts"])
    versions: Counter[str] = Counter(window["installs_by_version"])
    errors: Counter[str] = Counter(window["failures_by_error"])
    for item in new:
        event = item.event
        counts[event.event_type.value] += 1
        if event.event_type is EventType.UPDATE_INSTALLED:
            release = event.release_info
            versions[(release and release.target_version) or UNKNOWN] += 1
        elif event.event_type is EventType.UPDATE_FAILED:
            error = event.error_info
            errors[(error and error.error_code) or UNKNOWN] += 1
    return {
        "partition": window["partition"],
        "offset": new[-1].offset,
        "counts": dict(counts),
        "installs_by_version": dict(versions),
        "failures_by_error": dict(errors),
        "devices": devices.add(window["devices"], (item.event.device_id for item in new)),
    }
