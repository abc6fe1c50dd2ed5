"""`/analytics/versions`: the current version spread across devices active in the window (docs/api.md#analytics).

A device's current version is the version-after of its latest versioned event in the window, by timestamp and
then by event_id, so that ties resolve the same way in the view, in the raw table and in tests.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.queries.scope import QueryScope, rate

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

# segment parameter -> position in the `latest` tuple
# (timestamp, event_id, version-after, os, model, manufacturer, os_version); see 002_analytics_views.sql
SEGMENTS = {"device_os": 4, "device_model": 5, "device_manufacturer": 6, "device_os_version": 7}

LATEST_TUPLE = """CAST((
    timestamp, event_id, assumeNotNull(if(event_type = 'update_installed', target_version, current_version)),
    ifNull(device_os, ''), ifNull(device_model, ''), ifNull(device_manufacturer, ''), ifNull(device_os_version, '')
) AS Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))"""

# The latest versioned event of each device inside the window: whole days from the view, edges from raw.
IN_WINDOW = """
SELECT device, max(latest) AS latest
FROM (
    SELECT device, latest FROM device_versions_daily WHERE {view_where} {only_devices}
    UNION ALL
    SELECT cityHash64(device_id) AS device, max({latest_tuple})
    FROM ota_events_raw
    WHERE {raw_where} AND if(event_type = 'update_installed', target_version, current_version) IS NOT NULL
        {only_raw_devices}
    GROUP BY device
)
GROUP BY device
"""

# With views: a device whose all-time latest event lies in the window answers from device_latest at once;
# IN_WINDOW runs only for devices with events after the window's end (LATER, usually none).
#
# device_latest may hold a device in several parts not merged yet. Its all-time latest is the row with the
# greatest (timestamp, event_id), so argMax finds it, and rows before the window can be skipped first (if the
# latest is in the window, it is not among them). argMax reads only the columns it returns: 26-33 ms for the 43k
# devices of the benchmark's largest app, against 40-49 ms for max(latest), and 66-80 ms for FINAL once ten or
# more parts are unmerged (bench/RESULTS.md). A device is later than the window if any of its rows is, so LATER
# needs no grouping.
ALL_TIME_IN_WINDOW = """
SELECT pick.1 AS version, pick.2 AS segment
FROM (
    SELECT device, argMax((latest.3, {segment}), (latest.1, latest.2)) AS pick, max(latest.1) AS last
    FROM device_latest
    WHERE {dims} AND latest.1 >= {{start:DateTime64(3, 'UTC')}}
    GROUP BY device
    HAVING last <= {{end:DateTime64(3, 'UTC')}}
)
"""
LATER = "(SELECT device FROM device_latest WHERE {dims} AND latest.1 > {{end:DateTime64(3, 'UTC')}})"

SPREAD = """
SELECT version, segment, count() AS devices
FROM ({devices})
GROUP BY version, segment
"""
FROM_TUPLES = "SELECT latest.3 AS version, {segment} AS segment FROM ({in_window})"


def _spread(rows: list[tuple[str, int]]) -> dict[str, Any]:
    total = sum(n for _, n in rows)
    ordered = sorted(rows, key=lambda row: (-row[1], row[0]))
    versions = [{"version": v, "device_count": n, "percentage": rate(n, total)} for v, n in ordered]
    return {"versions": versions, "total_devices": total}


async def versions(
    ch: ClickHouse, scope: QueryScope, segment: str | None = None, use_views: bool = True
) -> dict[str, Any]:
    hybrid = scope.hybrid("day", use_views)
    # The segment column comes from a fixed map, never from the input.
    segment_sql = f"latest.{SEGMENTS[segment]}" if segment else "''"
    window = {"latest_tuple": LATEST_TUPLE, "view_where": hybrid.view_where, "raw_where": hybrid.raw_where}
    if use_views:
        dims = scope.dims()[0]
        later = LATER.format(dims=dims)  # usually empty: both parts of IN_WINDOW then read almost nothing
        in_window = IN_WINDOW.format(
            **window,
            only_devices=f"AND device IN {later}",
            only_raw_devices=f"AND cityHash64(device_id) IN {later}",
        )
        devices = (
            ALL_TIME_IN_WINDOW.format(dims=dims, segment=segment_sql)
            + " UNION ALL "
            + FROM_TUPLES.format(segment=segment_sql, in_window=in_window)
        )
    else:
        in_window = IN_WINDOW.format(**window, only_devices="", only_raw_devices="")
        devices = FROM_TUPLES.format(segment=segment_sql, in_window=in_window)
    rows = await ch.query(SPREAD.format(devices=devices), hybrid.params)
    if segment is None:
        return _spread([(version, n) for version, _, n in rows])
    by_segment: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for version, value, n in rows:
        by_segment[value or UNKNOWN].append((version, n))
    segments = [{"segment": key, **_spread(spread)} for key, spread in by_segment.items()]
    segments.sort(key=lambda s: (-s["total_devices"], s["segment"]))
    return {"segments": segments}
