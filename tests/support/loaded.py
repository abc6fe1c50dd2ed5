"""Databases loaded by the real writer for the query tests: the reference time, the windows every figure is
checked over, and the event sets of the release and drill-down tests."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.writer import EventWriter
from tests.support.expected import Window
from tests.support.release_scenario import ReleaseScenario, with_every_field
from tests.support.rows import rows
from tests.support.scenario import Event, Scenario, with_duplicates
from tests.support.stability_scenario import stability_events

NOW = datetime.now(UTC).replace(microsecond=123000)
day_start = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
WINDOWS = {
    "last 30 days": (NOW - timedelta(days=30), NOW),
    "whole days": (day_start - timedelta(days=12), day_start - timedelta(days=2)),
    "a year": (NOW - timedelta(days=365), NOW + timedelta(hours=23)),
    "inside one hour": (NOW - timedelta(days=3, minutes=50), NOW - timedelta(days=3, minutes=5)),
    "hours not days": (NOW - timedelta(days=4, hours=7), NOW - timedelta(days=4, hours=1)),
}


def window_of(scope: QueryScope) -> Window:
    """The plain-Python window of a query's scope."""
    return Window(scope.tenant_id, scope.start, scope.end, scope.org_id, scope.app_id)


def write(ch: ClickHouse, events: list[Event]) -> None:
    for i in range(0, len(events), 150):  # several inserts, as the sink makes them
        asyncio.run(EventWriter(ch).write(rows(events[i : i + 150], offset=i, per_message=40, now=NOW)))


def release_events() -> list[Event]:
    """Updates, release rollouts, and the launches and crashes of the releases' devices."""
    events = Scenario(now=NOW, devices_per_app=6, seed=21).build()
    events += ReleaseScenario(now=NOW).build()
    events += stability_events(NOW)
    return with_duplicates(events, random.Random(8))


def drilldown_events() -> list[Event]:
    return with_every_field(release_events(), random.Random(4))
