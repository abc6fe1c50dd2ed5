"""`/analytics/active-devices`: distinct devices per UTC day and over the window (docs/api.md#analytics)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.scope import QueryScope

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

STATES = """(
    SELECT date, devices FROM daily_devices WHERE {view_where}
    UNION ALL
    SELECT toDate(timestamp) AS date, uniqExactState(device_id) FROM ota_events_raw WHERE {raw_where} GROUP BY date
)"""

# ROLLUP adds one row with date NULL: the distinct devices of the whole window, not the sum of the days.
DAILY = """
SELECT if(isNull(date), NULL, toString(date)) AS day, uniqExactMerge(devices) AS active
FROM {states}
GROUP BY ROLLUP(date)
ORDER BY date
SETTINGS group_by_use_nulls = 1
"""
TOTAL = "SELECT uniqExactMerge(devices) FROM {states}"


def _states(scope: QueryScope, use_views: bool) -> tuple[str, dict[str, Any]]:
    hybrid = scope.hybrid("day", use_views)
    return STATES.format(view_where=hybrid.view_where, raw_where=hybrid.raw_where), hybrid.params


async def active_devices(ch: ClickHouse, scope: QueryScope, use_views: bool = True) -> dict[str, Any]:
    states, params = _states(scope, use_views)
    rows = await ch.query(DAILY.format(states=states), params)
    daily = [{"date": day, "active_devices": n} for day, n in rows if day is not None]
    total = next((n for day, n in rows if day is None), 0)
    return {"daily_active_devices": daily, "total_active_devices": total}


async def total_active_devices(ch: ClickHouse, scope: QueryScope, use_views: bool = True) -> int:
    """`total_active_devices` alone: the denominator of the release adoption curves
    (docs/api.md#get-analyticsreleases)."""
    states, params = _states(scope, use_views)
    [(total,)] = await ch.query(TOTAL.format(states=states), params)
    return int(total)
