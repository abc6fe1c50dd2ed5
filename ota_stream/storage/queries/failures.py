"""`/analytics/failures`: failure totals and a breakdown by one dimension (docs/api.md#analytics)."""

from __future__ import annotations

from typing import Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import adoption
from ota_stream.storage.queries.scope import QueryScope, rate

GROUP_BY = ("error_code", "failure_stage", "target_version", "device_os", "device_model")

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


async def failures(
    ch: ClickHouse, scope: QueryScope, group_by: str = "error_code", use_views: bool = True
) -> dict[str, Any]:
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    hybrid = scope.hybrid("day", use_views)
    sql = BREAKDOWN.format(key=group_by, view_where=hybrid.view_where, raw_where=hybrid.raw_where)
    rows = await ch.query(sql, hybrid.params)
    total, affected = next(((n, d) for key, n, d in rows if key is None), (0, 0))
    adoption_totals = await adoption.totals(ch, scope, use_views=use_views)
    breakdown = [
        {"key": key or UNKNOWN, "count": n, "affected_devices": d, "percentage": rate(n, total)}
        for key, n, d in rows
        if key is not None
    ]
    breakdown.sort(key=lambda row: (-row["count"], row["key"]))
    return {
        "total_failures": total,
        "failure_rate": rate(adoption_totals.failed, adoption_totals.installed + adoption_totals.failed),
        "affected_devices": affected,
        "rollbacks": adoption_totals.rollbacks,
        "group_by": group_by,
        "breakdown": breakdown,
    }
