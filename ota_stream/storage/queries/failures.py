"""`/analytics/failures`: failure totals and a breakdown by one dimension (docs/api.md#analytics)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.queries.scope import QueryScope, rate

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

GROUP_BY = ("error_code", "failure_stage", "target_version", "device_os", "device_model")

# Installs and completed rollbacks of the window, for the failure rate and `rollbacks`: whole hours from
# adoption_hourly (its window parameters prefixed `hour_`), the edges from the raw table. The failures of the rate
# are those of the breakdown: the same update_failed events.
UPDATES = """(
    SELECT (sum(installs), sum(rollbacks)) FROM (
        SELECT toUInt64(installs) AS installs, toUInt64(rollbacks) AS rollbacks
        FROM adoption_hourly WHERE {view_where}
        UNION ALL
        SELECT countIf(event_type = 'update_installed'), countIf(event_type = 'rollback_completed')
        FROM ota_events_raw WHERE {raw_where} AND event_type IN ('update_installed', 'rollback_completed')
    )
)"""

# ROLLUP adds the row with key NULL: totals over every key. A missing value is stored and read as ''.
BREAKDOWN = """
SELECT {key} AS key, sum(n) AS failures, uniqExactMerge(devices) AS affected
FROM (
    SELECT {key}, toUInt64(failures) AS n, devices FROM failures_daily WHERE {view_where}
    UNION ALL
    SELECT ifNull({key}, '') AS {key}, count(), uniqExactState(device_id)
    FROM ota_events_raw WHERE {raw_where} AND event_type = 'update_failed'
    GROUP BY {key}
)
GROUP BY ROLLUP({key})
SETTINGS group_by_use_nulls = 1
"""
# The answer in one statement, one row even when the window has no failure (at small sizes most of a statement's
# time is ClickHouse analysing and planning it: bench/query_cost.py).
ANSWER = "SELECT {updates}, (SELECT groupArray((key, failures, affected)) FROM ({breakdown}))"


async def failures(
    ch: ClickHouse, scope: QueryScope, group_by: str = "error_code", use_views: bool = True
) -> dict[str, Any]:
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    hybrid = scope.hybrid("day", use_views)
    hours = scope.hybrid("hour", use_views, prefix="hour_")
    sql = ANSWER.format(
        updates=UPDATES.format(view_where=hours.view_where, raw_where=hours.raw_where),
        breakdown=BREAKDOWN.format(key=group_by, view_where=hybrid.view_where, raw_where=hybrid.raw_where),
    )
    [((installed, rollbacks), rows)] = await ch.query(sql, {**hybrid.params, **hours.params})
    total, affected = next(((n, d) for key, n, d in rows if key is None), (0, 0))
    breakdown = [
        {"key": key or UNKNOWN, "count": n, "affected_devices": d, "percentage": rate(n, total)}
        for key, n, d in rows
        if key is not None
    ]
    breakdown.sort(key=lambda row: (-row["count"], row["key"]))
    return {
        "total_failures": total,
        "failure_rate": rate(total, installed + total),
        "affected_devices": affected,
        "rollbacks": rollbacks,
        "group_by": group_by,
        "breakdown": breakdown,
    }
