"""`/analytics/adoption`: installs, failures, rollbacks and devices updated (docs/api.md#analytics), from
`adoption_hourly`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.scope import Hybrid, QueryScope, rate

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

TOTALS = (
    "SELECT sum(installs), sum(failures), sum(rollbacks), uniqExactMerge(installed_devices) FROM {states}"
)

HOURLY = """
SELECT formatDateTime(hour, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS hour_text, sum(installs) AS i, sum(failures) AS f
FROM {states}
GROUP BY hour
HAVING i + f > 0
ORDER BY hour
"""


@dataclass(frozen=True)
class Totals:
    installed: int
    failed: int
    rollbacks: int
    devices: int


def _states(scope: QueryScope, target_version: str | None, use_views: bool) -> tuple[str, dict[str, Any]]:
    hybrid: Hybrid = scope.hybrid("hour", use_views)
    view_where, raw_where, params = hybrid.view_where, hybrid.raw_where, dict(hybrid.params)
    if target_version is not None:
        view_where += " AND target_version = {target_version:String}"
        raw_where += " AND target_version = {target_version:String}"
        params["target_version"] = target_version
    return STATES.format(view_where=view_where, raw_where=raw_where), params


async def totals(
    ch: ClickHouse, scope: QueryScope, target_version: str | None = None, use_views: bool = True
) -> Totals:
    states, params = _states(scope, target_version, use_views)
    [(installed, failed, rollbacks, devices)] = await ch.query(TOTALS.format(states=states), params)
    return Totals(installed, failed, rollbacks, devices)


async def adoption(
    ch: ClickHouse, scope: QueryScope, target_version: str | None = None, use_views: bool = True
) -> dict[str, Any]:
    t = await totals(ch, scope, target_version, use_views)
    states, params = _states(scope, target_version, use_views)
    hourly = await ch.query(HOURLY.format(states=states), params)
    total = t.installed + t.failed
    return {
        "total_updates": total,
        "successful_updates": t.installed,
        "failed_updates": t.failed,
        "success_rate": rate(t.installed, total),
        "rollbacks": t.rollbacks,
        "unique_devices_updated": t.devices,
        "hourly_installs": [{"hour": h, "installs": i, "failures": f} for h, i, f in hourly],
    }
