"""`/analytics/adoption`: installs, failures, rollbacks and devices updated (spec §3)."""

from __future__ import annotations

from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.events_table import TABLE
from ota_stream.storage.queries.scope import Scope, rate

TOTALS = """
SELECT
    countIf(event_type = 'update_installed') AS successful,
    countIf(event_type = 'update_failed') AS failed,
    countIf(event_type = 'rollback_completed') AS rollbacks,
    uniqExactIf(device_id, event_type = 'update_installed') AS devices
FROM {table} WHERE {where}
"""

HOURLY = """
SELECT
    formatDateTime(toStartOfHour(timestamp), '%Y-%m-%dT%H:%i:%SZ') AS hour,
    countIf(event_type = 'update_installed') AS installs,
    countIf(event_type = 'update_failed') AS failures
FROM {table}
WHERE {where} AND event_type IN ('update_installed', 'update_failed')
GROUP BY hour
ORDER BY hour
"""


async def adoption(ch: ClickHouse, scope: Scope, target_version: str | None = None) -> dict[str, Any]:
    where, params = scope.where()
    if target_version is not None:
        where += " AND target_version = {target_version:String}"
        params["target_version"] = target_version
    [(successful, failed, rollbacks, devices)] = await ch.query(
        TOTALS.format(table=TABLE, where=where), params
    )
    hourly = await ch.query(HOURLY.format(table=TABLE, where=where), params)
    total = successful + failed
    return {
        "total_updates": total,
        "successful_updates": successful,
        "failed_updates": failed,
        "success_rate": rate(successful, total),
        "rollbacks": rollbacks,
        "unique_devices_updated": devices,
        "hourly_installs": [{"hour": h, "installs": i, "failures": f} for h, i, f in hourly],
    }
