"""`/analytics/adoption`: installs, failures, rollbacks and devices updated (docs/api.md#analytics), from
`adoption_hourly`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.scope import Hybrid, QueryScope, rate

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

STATES = """(
    SELECT hour, toUInt64(installs) AS installs, toUInt64(failures) AS failures,
           toUInt64(rollbacks) AS rollbacks, installed_devices
    FROM adoption_hourly WHERE {view_where}
    UNION ALL
    SELECT toStartOfHour(timestamp) AS hour,
           countIf(event_type = 'update_installed'), countIf(event_type = 'update_failed'),
           countIf(event_type = 'rollback_completed'),
           uniqExactStateIf(device_id, event_type = 'update_installed')
    FROM ota_events_raw
    WHERE {raw_where} AND event_type IN ('update_installed', 'update_failed', 'rollback_completed')
    GROUP BY hour
)"""

# The answer in one statement: the totals, and the hours with an install or a failure (sumMap leaves out the keys
# whose values are all zero), their times already in RFC 3339. One statement rather than totals and hours apart:
# at small sizes most of a statement's time is ClickHouse analysing and planning it (bench/query_cost.py).
ANSWER = """
SELECT installed, failed, rollbacks, devices,
    arrayZip(arrayMap(h -> formatDateTime(h, '%Y-%m-%dT%H:%i:%SZ', 'UTC'), hourly.1), hourly.2, hourly.3)
FROM (
    SELECT sum(installs) AS installed, sum(failures) AS failed, sum(rollbacks) AS rollbacks,
        uniqExactMerge(installed_devices) AS devices, sumMap([hour], [installs], [failures]) AS hourly
    FROM {states}
)
"""


def _states(scope: QueryScope, target_version: str | None, use_views: bool) -> tuple[str, dict[str, Any]]:
    hybrid: Hybrid = scope.hybrid("hour", use_views)
    view_where, raw_where, params = hybrid.view_where, hybrid.raw_where, dict(hybrid.params)
    if target_version is not None:
        view_where += " AND target_version = {target_version:String}"
        raw_where += " AND target_version = {target_version:String}"
        params["target_version"] = target_version
    return STATES.format(view_where=view_where, raw_where=raw_where), params


async def adoption(
    ch: ClickHouse, scope: QueryScope, target_version: str | None = None, use_views: bool = True
) -> dict[str, Any]:
    states, params = _states(scope, target_version, use_views)
    [(installed, failed, rollbacks, devices, hourly)] = await ch.query(ANSWER.format(states=states), params)
    total = installed + failed
    return {
        "total_updates": total,
        "successful_updates": installed,
        "failed_updates": failed,
        "success_rate": rate(installed, total),
        "rollbacks": rollbacks,
        "unique_devices_updated": devices,
        "hourly_installs": [{"hour": h, "installs": i, "failures": f} for h, i, f in hourly],
    }
