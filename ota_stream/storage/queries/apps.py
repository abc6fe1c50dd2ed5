"""`/analytics/apps`: the tenant's apps with events in the window (docs/api.md#get-analyticsapps), for an app picker.

`events` counts events, `devices` distinct devices, `last_seen` is the latest event's time; apps are listed by
org_id, then app_id. Whole days come from `app_activity_daily` and `daily_devices`, the partial days at the
window's edges from the raw table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.scope import QueryScope, rfc3339

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

EPOCH = "toDateTime64(0, 3, 'UTC')"
APPS = f"""
SELECT org_id, app_id, sum(events) AS n, uniqExactMerge(devices) AS d, max(last_seen) AS last
FROM (
    SELECT org_id, app_id, sum(events) AS events, max(last_seen) AS last_seen, uniqExactStateIf('', 0) AS devices
    FROM app_activity_daily WHERE {{view_where}} GROUP BY org_id, app_id
    UNION ALL
    SELECT org_id, app_id, toUInt64(0), {EPOCH}, devices FROM daily_devices WHERE {{view_where}}
    UNION ALL
    SELECT org_id, app_id, count(), max(timestamp), uniqExactState(device_id)
    FROM ota_events_raw WHERE {{raw_where}} GROUP BY org_id, app_id
)
GROUP BY org_id, app_id
HAVING n > 0
ORDER BY org_id, app_id
"""


async def apps(ch: ClickHouse, scope: QueryScope, use_views: bool = True) -> list[dict[str, Any]]:
    hybrid = scope.hybrid("day", use_views)
    rows = await ch.query(
        APPS.format(view_where=hybrid.view_where, raw_where=hybrid.raw_where), hybrid.params
    )
    return [
        {"org_id": org, "app_id": app, "events": n, "devices": d, "last_seen": rfc3339(last)}
        for org, app, n, d, last in rows
    ]
