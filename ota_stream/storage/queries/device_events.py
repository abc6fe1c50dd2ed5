"""`/analytics/devices/{device_id}/events`: one device's events in the window, newest first, as event objects
(docs/events.md).

Ties on the timestamp are broken by event_id, descending. The raw table is sorted by app and time, not by
device, so this reads the device_id column of the scope's window; bench/RESULTS.md has its latency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.event_rows import NAMES, RFC3339, nested, select_list
from ota_stream.storage.queries.scope import QueryScope

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

EVENTS = """
SELECT {columns}
FROM (SELECT * FROM ota_events_raw WHERE {where} AND device_id = {{device_id:String}}) AS e
ORDER BY e.timestamp DESC, e.event_id DESC
LIMIT {{limit:UInt32}}
"""


async def device_events(
    ch: ClickHouse, scope: QueryScope, device_id: str, limit: int = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    """`device_id` as stored: pseudonymised by the caller when the installation pseudonymises (web/analytics.py)."""
    where, params = scope.window()
    params.update(device_id=device_id, limit=limit)
    sql = EVENTS.format(columns=select_list({"timestamp": RFC3339}), where=where)
    rows = await ch.query(sql, params)
    return [nested(dict(zip(NAMES, row, strict=True))) for row in rows]
