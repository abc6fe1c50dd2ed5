"""`/analytics/failures/messages`: the most frequent failure messages, with the latest events as samples
(docs/api.md#get-analyticsfailuresmessages).

- One entry per (error_code, error_message) of `update_failed` events in the window; a missing value reads
  `unknown`, as the keys of /analytics/failures do, and the `error_code` and `target_version` filters compare
  against the value as read (so `error_code=unknown` selects failures without a code).
- Sorted by count descending, then error_code and error_message ascending; `samples` are the 3 latest events
  (timestamp descending, then event_id descending).
- Read from the raw table: failures are a small share of events, and messages are free text that a view keyed
  by them would not shrink (bench/RESULTS.md has the latency at 10M events).
"""

from __future__ import annotations

from typing import Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.scope import QueryScope, rfc3339

DEFAULT_LIMIT, MAX_LIMIT, SAMPLES = 20, 100, 3

MESSAGES = f"""
SELECT ifNull(error_code, '{UNKNOWN}') AS code, ifNull(error_message, '{UNKNOWN}') AS message,
    count() AS n, uniqExact(device_id) AS devices, max(timestamp) AS last,
    arraySlice(arrayReverseSort(groupArray((timestamp, event_id, device_id))), 1, {SAMPLES}) AS samples
FROM ota_events_raw
WHERE {{where}} AND event_type = 'update_failed' {{filters}}
GROUP BY code, message
ORDER BY n DESC, code, message
LIMIT {{{{limit:UInt32}}}}
"""
FILTERS = {
    "error_code": f"ifNull(error_code, '{UNKNOWN}') = {{error_code:String}}",
    "target_version": f"ifNull(target_version, '{UNKNOWN}') = {{target_version:String}}",
}


async def failure_messages(
    ch: ClickHouse,
    scope: QueryScope,
    error_code: str | None = None,
    target_version: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    where, params = scope.window()
    params["limit"] = limit
    filters = ""
    for name, value in (("error_code", error_code), ("target_version", target_version)):
        if value is not None:
            filters += f" AND {FILTERS[name]}"
            params[name] = value
    rows = await ch.query(MESSAGES.format(where=where, filters=filters), params)
    return [
        {
            "error_code": code,
            "error_message": message,
            "count": n,
            "affected_devices": devices,
            "last_seen": rfc3339(last),
            "samples": [
                {"event_id": event_id, "device_id": device_id, "timestamp": rfc3339(at)}
                for at, event_id, device_id in samples
            ],
        }
        for code, message, n, devices, last, samples in rows
    ]
