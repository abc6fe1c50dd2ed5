"""`/analytics/devices/{device_id}/events`: one device's events in the window, newest first, as §1 objects.

Ties on the timestamp are broken by event_id, descending. The raw table is sorted by app and time, not by
device, so this reads the device_id column of the scope's window; bench/RESULTS.md has its latency.
"""

from __future__ import annotations

from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.event_rows import NAMES, RFC3339, nested, select_list
from ota_stream.storage.queries.scope import Scope

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

EVENTS = """
SELECT {columns}
FROM (SELECT * FROM ota_events_raw WHERE {where} AND device_id = {{device_id:String}}) AS e
ORDER BY e.timestamp DESC, e.event_id DESC
LIMIT {{limit:UInt32}}
"""


def stored_device_id(device_id: str, tenant_id: str) -> str:
    """The id as the raw table holds it. With device-id pseudonymisation (spec §7, DEVICE_ID_HMAC_KEY) the raw
    id in the path is to be hashed here, the one place that maps a path id to a stored one."""
    del tenant_id  # the HMAC covers the tenant; unused until pseudonymisation exists
    return device_id


async def device_events(
    ch: ClickHouse, scope: Scope, device_id: str, limit: int = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    where, params = scope.window()
    params.update(device_id=stored_device_id(device_id, scope.tenant_id), limit=limit)
    sql = EVENTS.format(columns=select_list({"timestamp": RFC3339}), where=where)
    rows = await ch.query(sql, params)
    return [nested(dict(zip(NAMES, row, strict=True))) for row in rows]
