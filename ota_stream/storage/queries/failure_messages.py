"""`/analytics/failures/messages`: the most frequent failure messages, with the latest events as samples
(docs/api.md#get-analyticsfailuresmessages).

- One entry per (error_code, error_message) of `update_failed` events in the window; a missing value reads
  `unknown`, as the keys of /analytics/failures do, and the `error_code` and `target_version` filters compare
  against the value as read (so `error_code=unknown` selects failures without a code).
- Sorted by count descending, then error_code and error_message ascending; `samples` are the 3 latest events
  (timestamp descending, then event_id descending).
- Counts, devices and last_seen come from `failure_messages_hourly` (schema/012_failure_messages.sql) for the
  window's whole hours and from the raw table for the partial hours at its edges. The samples are raw events: per
  listed message, its hourly counts give the latest hour from which it has SAMPLES failures up to the window's
  end, and a second statement reads only the listed messages' raw events since the earliest of those hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.queries.scope import QueryScope, ch_datetime, rfc3339

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

DEFAULT_LIMIT, MAX_LIMIT, SAMPLES = 20, 100, 3

_CODE = f"ifNull(error_code, '{UNKNOWN}')"
_MESSAGE = f"ifNull(error_message, '{UNKNOWN}')"
_VERSION = f"ifNull(target_version, '{UNKNOWN}')"

# Per listed (code, message): count, devices, last, and `since`, the start of the latest hour from which it has
# SAMPLES failures up to the window's end (the window's start when it has fewer). Rows are per hour: whole hours
# from the view, the edges from the raw table.
LISTED = f"""
SELECT code, message, sum(failures) AS n, uniqExactMerge(devices) AS devices, max(latest) AS last,
    arraySort(x -> -toUnixTimestamp(x.1), groupArray((hour, failures))) AS newest_hours,
    arrayFirstIndex(c -> c >= {SAMPLES}, arrayCumSum(arrayMap(x -> x.2, newest_hours))) AS reached,
    if(reached = 0, {{{{start:DateTime64(3, 'UTC')}}}}, toDateTime64(newest_hours[reached].1, 3, 'UTC')) AS since
FROM (
    SELECT error_code AS code, error_message AS message, hour, toUInt64(failures) AS failures, devices,
        last AS latest
    FROM failure_messages_hourly WHERE {{view_where}} {{view_filters}}
    UNION ALL
    SELECT {_CODE} AS code, {_MESSAGE} AS message, toStartOfHour(timestamp) AS hour, count(),
        uniqExactState(device_id), max(timestamp)
    FROM ota_events_raw WHERE {{raw_where}} AND event_type = 'update_failed' {{raw_filters}}
    GROUP BY code, message, hour
)
GROUP BY code, message
ORDER BY n DESC, code, message
LIMIT {{{{limit:UInt32}}}}
"""
# The listed messages' samples: their raw failures since the earliest `since` of them. A second statement rather
# than a join on LISTED, which ClickHouse would compute once per mention (at 1M events that doubled the CPU).
SAMPLED = f"""
SELECT {_CODE} AS code, {_MESSAGE} AS message,
    arraySlice(arrayReverseSort(groupArray((timestamp, event_id, device_id))), 1, {SAMPLES}) AS samples
FROM ota_events_raw
WHERE {{where}} AND event_type = 'update_failed' {{raw_filters}}
    AND timestamp >= {{{{since:DateTime64(3, 'UTC')}}}}
    AND has({{{{listed:Array(Tuple(String, String))}}}}, (code, message))
GROUP BY code, message
"""
# The column each filter compares: of the view, of the raw table (both as read, missing values `unknown`).
FILTERS = {
    "error_code": ("error_code", _CODE),
    "target_version": ("target_version", _VERSION),
}


async def failure_messages(
    ch: ClickHouse,
    scope: QueryScope,
    error_code: str | None = None,
    target_version: str | None = None,
    limit: int = DEFAULT_LIMIT,
    use_views: bool = True,
) -> list[dict[str, Any]]:
    where, params = scope.window()
    hybrid = scope.hybrid("hour", use_views)
    params.update(hybrid.params, limit=limit)
    view_filters = raw_filters = ""
    for name, value in (("error_code", error_code), ("target_version", target_version)):
        if value is not None:
            view_column, raw_column = FILTERS[name]
            view_filters += f" AND {view_column} = {{{name}:String}}"
            raw_filters += f" AND {raw_column} = {{{name}:String}}"
            params[name] = value
    listed = await ch.query(
        LISTED.format(
            view_where=hybrid.view_where,
            raw_where=hybrid.raw_where,
            view_filters=view_filters,
            raw_filters=raw_filters,
        ),
        params,
    )
    if not listed:
        return []
    params.update(since=ch_datetime(min(row[-1] for row in listed)), listed=[row[:2] for row in listed])
    sampled = await ch.query(SAMPLED.format(where=where, raw_filters=raw_filters), params)
    samples = {(code, message): found for code, message, found in sampled}
    return [
        {
            "error_code": code,
            "error_message": message,
            "count": n,
            "affected_devices": devices,
            "last_seen": rfc3339(last),
            "samples": [
                {"event_id": event_id, "device_id": device_id, "timestamp": rfc3339(at)}
                for at, event_id, device_id in samples.get((code, message), [])
            ],
        }
        for code, message, n, devices, last, *_ in listed
    ]
