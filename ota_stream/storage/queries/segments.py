"""`/analytics/releases/{version}/segments`: a release's figures per device segment, and the worst segment.

A rollout that fails on one OS version or one phone model hides inside a good overall rate; this splits the
release's devices by one dimension and names the segment whose failures are surest to be high.
- A device's segment value is read from its update events of the release in the window: the value of the latest
  of them that carries one (by timestamp; at the same millisecond the greater value), `unknown` when none does.
  Segments therefore partition the release's devices (`devices_attempted` of /analytics/releases).
- Per segment, the release figures of its devices (install success, rollbacks, as /analytics/releases), and the
  sessions of the release run by those devices with their crash-free rate (as /analytics/stability; sessions of
  devices without an update event of the release are in no segment).
- `worst`: among segments with at least `min_devices` devices, the one whose failure proportion has the highest
  Wilson lower bound (100 - the upper bound of install success, as reported), ties by key; None without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.queries.confidence import Proportion
from ota_stream.storage.queries.release_sql import NEVER, UPDATES, rolled_back, rows, version_devices
from ota_stream.storage.queries.releases import window_where
from ota_stream.storage.queries.scope import QueryScope, rate
from ota_stream.storage.queries.stability import exact, sessions_sql

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

# the `by` parameter -> the raw table's column (a fixed map: no input reaches the SQL text)
DIMENSIONS = {
    "device_os": "device_os",
    "device_os_version": "device_os_version",
    "device_model": "device_model",
    "device_manufacturer": "device_manufacturer",
    "connection_type": "connection_type",
    "channel": "release_channel",
}
DEFAULT_MIN_DEVICES = 20
MAX_MIN_DEVICES = 100_000_000

# Per device of the release: its latest (timestamp, value) of the dimension in the window, whole hours from
# release_segments_hourly (whose columns are named as the `by` parameter), the edges from the raw table.
KEYS = f"""
SELECT device, max(latest).2 AS key
FROM (
    SELECT device, {{dimension}} AS latest
    FROM release_segments_hourly WHERE {{view}} AND version = {{{{version:String}}}}
    UNION ALL
    SELECT cityHash64(device_id) AS device,
        maxIf((timestamp, toString(assumeNotNull({{column}}))), {{column}} IS NOT NULL)
    FROM ota_events_raw WHERE {{raw}} AND target_version = {{{{version:String}}}} AND event_type IN {UPDATES}
    GROUP BY device
)
GROUP BY device
"""

# Per device of the release: its figures (whole hours from release_devices_hourly, edges raw), its segment value
# (KEYS), whether it rolled the release back, and its sessions of it.
SEGMENTS = f"""
SELECT if(key = '', '{UNKNOWN}', key) AS segment, count() AS attempted, countIf(fi < {NEVER}) AS installed,
    countIf(fa = 1 AND fi = {NEVER}) AS failed_only, countIf(device IN (SELECT device FROM {{rolled_back}})) AS rolled,
    sum(n_sessions) AS sessions, sum(n_crashed) AS crashed, sum(n_unresolved)
FROM (
    SELECT device, min(first_install) AS fi, max(failed) AS fa FROM ({{pairs}}) GROUP BY device
) AS figures
LEFT JOIN ({{keys}}) AS keys USING (device)
LEFT JOIN (
    SELECT device, count() AS n_sessions, countIf(crashed = 1) AS n_crashed, countIf(unresolved) AS n_unresolved
    FROM ({{sessions}}) GROUP BY device
) AS runs USING (device)
GROUP BY segment
"""


def _segment(key: str, attempted: int, installed: int, failed_only: int, rolled: int, sessions: int,
             crashed: int) -> dict[str, Any]:  # fmt: skip
    success = Proportion(installed, installed + failed_only)
    return {
        "key": key,
        "devices_attempted": attempted,
        "install_success_rate": success.rate,
        "install_success_rate_interval": success.interval,
        "rollback_rate": rate(rolled, installed),
        "crash_free_sessions_rate": rate(sessions - crashed, sessions),
        "sessions": sessions,
    }


def worst(listed: list[dict[str, Any]], min_devices: int) -> str | None:
    """The key with the highest lower bound of failures, 100 - the upper bound of install success."""
    qualified = [s for s in listed if s["devices_attempted"] >= min_devices]
    if not qualified:
        return None
    chosen = min(qualified, key=lambda s: (s["install_success_rate_interval"][1], s["key"]))
    return str(chosen["key"])


async def segments(
    ch: ClickHouse,
    scope: QueryScope,
    version: str,
    by: str,
    min_devices: int = DEFAULT_MIN_DEVICES,
    use_views: bool = True,
) -> dict[str, Any]:
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {sorted(DIMENSIONS)}")
    params: dict[str, Any] = {}
    where = window_where(scope, version, use_views, params)
    window = scope.hybrid("hour", use_views)  # the session rows' window, as the release rows'
    runs, session_params = sessions_sql(window, version, ["crashed"])
    params.update(session_params)
    sql = SEGMENTS.format(
        rolled_back=rolled_back(where, f"AND device IN {version_devices(where)}"),
        pairs=rows(where, ["first_install", "failed"]),
        keys=KEYS.format(dimension=by, column=DIMENSIONS[by], view=where.view, raw=where.raw),
        sessions=runs,
    )
    found = await exact(ch, window, sql, params)
    listed = [_segment(*row[:-1]) for row in found]
    listed.sort(key=lambda s: (-s["devices_attempted"], s["key"]))
    return {"version": version, "by": by, "segments": listed, "worst": worst(listed, min_devices)}
