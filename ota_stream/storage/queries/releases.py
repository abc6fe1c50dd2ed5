"""`/analytics/releases` and the figures behind the health gate (spec §9), from `release_devices_daily`.

Where §9 is silent (also in the README):
- An update event is one of the seven `update_*` types (UPDATE_TYPES, listed one by one so that activity types
  such as `app_launched` never count). A release is a `target_version` with an update event in the window.
- Each device's events are ordered by (timestamp, installs before rollbacks, version). A device rolled a
  release back when one of its installs of it in the window is directly followed, in that order and among its
  `update_installed` (of any version, known or not) and `rollback_completed` events in the window, by a
  rollback.
- `install_duration_seconds` samples are the `update_installed` events of the release that carry the field.
- `adoption_curve` lists the hours in which at least one device installed the release for the first time in
  the window; a point counts the devices whose first install falls in that hour or before. The hour at which
  the share reaches X % is known at its end, so `time_to_X_percent_seconds` = end of that hour - `first_seen`
  (millisecond precision); "reaches" compares exactly: 100 * devices >= X * total active devices.
- With `group_by`, a device belongs to the group of its first update event of the release in the window
  (earliest timestamp; ties by the smaller channel, then os, then rollout value), or to `unknown` when that
  event lacks the field; each group's figures are those of its devices, and its curve's share has the same
  denominator as the release's. Rollout percentages read as ClickHouse prints a Float32 (`50`, `12.5`).
- Releases are listed by `first_seen` descending, ties by version ascending; groups by `devices_attempted`
  descending, then key ascending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.active_devices import total_active_devices
from ota_stream.storage.queries.scope import Hybrid, Scope, rate

UPDATE_TYPES = (
    "update_started",
    "update_downloading",
    "update_downloaded",
    "update_installing",
    "update_installed",
    "update_failed",
    "update_cancelled",
)
_UPDATE_TYPES_SQL = "(" + ", ".join(f"'{t}'" for t in UPDATE_TYPES) + ")"  # constants, never input
NEVER = "toDateTime64('2299-12-31 23:59:59.999', 3, 'UTC')"
UNKNOWN = "unknown"
# group_by parameter -> position in the first_update tuple (timestamp, channel, os, rollout percentage)
GROUP_BY = {"channel": 2, "device_os": 3, "rollout_percentage": 4}
CURVE_PERCENTS = (50, 90)
HOUR_MS = 3_600_000

# The view's SELECT (006_release_devices.sql) over raw rows: the partial days at the window's edges, or the
# whole window with use_views=False.
RAW_ROWS = f"""
    SELECT ifNull(target_version, '') AS version, cityHash64(device_id) AS device,
        min(if(event_type IN {_UPDATE_TYPES_SQL},
            (timestamp, ifNull(release_channel, ''), ifNull(device_os, ''), ifNull(toString(rollout_percentage), '')),
            ({NEVER}, '', '', ''))) AS first_update,
        max(event_type = 'update_failed') AS failed,
        groupArrayIf(timestamp, event_type = 'update_installed') AS installs,
        groupArrayIf(install_duration_seconds, event_type = 'update_installed') AS install_durations,
        groupArrayIf(timestamp, event_type = 'rollback_completed') AS rollbacks
    FROM ota_events_raw
    WHERE {{raw_where}} {{raw_filter}} AND (
        (target_version IS NOT NULL AND event_type IN {_UPDATE_TYPES_SQL})
        OR event_type IN ('update_installed', 'rollback_completed'))
    GROUP BY version, device
"""
ROWS = (
    """
    SELECT version, device, first_update, failed, installs, install_durations, rollbacks
    FROM release_devices_daily WHERE {view_where} {view_filter}
    UNION ALL"""
    + RAW_ROWS
)

# Devices with an update event of one version in the window: the health gate reads only their rows.
_VERSION_DEVICES = f"""(
    SELECT device FROM release_devices_daily
    WHERE {{view_where}} AND version = {{{{version:String}}}} AND first_update.1 < {NEVER}
    UNION ALL
    SELECT cityHash64(device_id) FROM ota_events_raw
    WHERE {{raw_where}} AND target_version = {{{{version:String}}}} AND event_type IN {_UPDATE_TYPES_SQL}
)"""

# Per (version, device) over the window, then per device: its installs and rollbacks in order, and the versions
# whose install a rollback directly follows. Then per release (and group): the figures, and the curve as
# (hour, new devices) pairs from sumMap.
FIGURES = f"""
SELECT version, {{key}} AS key,
    -- output names differ from the inner columns: ClickHouse would resolve an inner name to an outer alias
    toUnixTimestamp64Milli(min(first.1)) AS n_first_seen, count() AS n_attempted, countIf(installed) AS n_installed,
    countIf(failed) AS n_failed, countIf(failed AND NOT installed) AS n_failed_only, countIf(rolled_back) AS n_rolled,
    quantilesExactArray(0.5, 0.95)(durations) AS n_quantiles, sum(length(durations)) AS n_samples,
    sumMapIf([hour], [toUInt64(1)], installed) AS n_curve
FROM (
    SELECT r.1 AS version, r.2 AS first, r.3 = 1 AS failed, notEmpty(r.4) AS installed, r.5 AS durations,
        toUnixTimestamp(toStartOfHour(arrayMin(r.4))) AS hour, has(rolled_back_versions, r.1) AS rolled_back
    FROM (
        SELECT device,
            groupArray((version, first, failed, installs, durations)) AS releases,
            arraySort(arrayConcat(
                arrayFlatten(groupArray(arrayMap(t -> (t, 0, version), installs))),
                arrayMap(t -> (t, 1, ''), arrayFlatten(groupArray(rollbacks)))
            )) AS sequence,
            arrayMap(x -> x.3, arrayFilter(
                (x, i) -> x.2 = 0 AND i < length(sequence) AND sequence[i + 1].2 = 1,
                sequence, arrayEnumerate(sequence)
            )) AS rolled_back_versions
        FROM (
            SELECT CAST(version, 'String') AS version, device, min(first_update) AS first, max(failed) AS failed,
                groupArrayArray(installs) AS installs, groupArrayArray(install_durations) AS durations,
                groupArrayArray(rollbacks) AS rollbacks
            FROM ({{rows}})
            GROUP BY version, device
        )
        GROUP BY device
    )
    ARRAY JOIN releases AS r
    WHERE r.1 != '' AND r.2.1 < {NEVER} {{only_version}}
)
GROUP BY {{grouping}}
SETTINGS group_by_use_nulls = 1
"""


@dataclass
class Figures:
    """The counts of one release or group; everything §9 lists derives from them."""

    first_seen_ms: int
    attempted: int
    installed: int
    failed: int
    failed_only: int
    rolled_back: int
    p50: float | None
    p95: float | None
    curve: list[tuple[int, int]] = field(default_factory=list)  # (hour as epoch seconds, new devices)

    @property
    def install_success_rate(self) -> float:
        return rate(self.installed, self.installed + self.failed_only)

    @property
    def failure_rate(self) -> float:
        """Devices that failed the release and never installed it in the window, over the same denominator."""
        return rate(self.failed_only, self.installed + self.failed_only)

    @property
    def rollback_rate(self) -> float:
        return rate(self.rolled_back, self.installed)

    def as_json(self, total_active: int) -> dict[str, Any]:
        curve, cumulative = [], 0
        reached: dict[int, float | None] = dict.fromkeys(CURVE_PERCENTS)
        for hour, new in sorted(self.curve):
            cumulative += new
            curve.append(
                {
                    "hour": datetime.fromtimestamp(hour, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "devices_installed_cumulative": cumulative,
                    "share_of_active_devices": rate(cumulative, total_active),
                }
            )
            for percent in CURVE_PERCENTS:
                if reached[percent] is None and 100 * cumulative >= percent * total_active:
                    reached[percent] = (hour * 1000 + HOUR_MS - self.first_seen_ms) / 1000
        return {
            "first_seen": _rfc3339_ms(self.first_seen_ms),
            "devices_attempted": self.attempted,
            "devices_installed": self.installed,
            "devices_failed": self.failed,
            "devices_rolled_back": self.rolled_back,
            "install_success_rate": self.install_success_rate,
            "rollback_rate": self.rollback_rate,
            "install_duration_seconds": {"p50": self.p50, "p95": self.p95},
            "adoption_curve": curve,
            **{f"time_to_{p}_percent_seconds": reached[p] for p in CURVE_PERCENTS},
        }


def _rfc3339_ms(epoch_ms: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _figures(row: tuple[Any, ...]) -> Figures:
    first_seen, attempted, installed, failed, failed_only, rolled, quantiles, samples, (hours, counts) = row
    p50, p95 = (round(q, 2) for q in quantiles) if samples else (None, None)
    return Figures(
        first_seen,
        attempted,
        installed,
        failed,
        failed_only,
        rolled,
        p50,
        p95,
        list(zip(hours, counts, strict=True)),
    )


async def _query(
    ch: ClickHouse, scope: Scope, group_by: str | None, version: str | None, use_views: bool
) -> list[tuple[Any, ...]]:
    hybrid: Hybrid = scope.hybrid("day", use_views)
    params = dict(hybrid.params)
    view_filter = raw_filter = only_version = ""
    if version is not None:
        params["version"] = version
        devices = _VERSION_DEVICES.format(view_where=hybrid.view_where, raw_where=hybrid.raw_where)
        view_filter, raw_filter = f"AND device IN {devices}", f"AND cityHash64(device_id) IN {devices}"
        only_version = "AND r.1 = {version:String}"
    rows = ROWS.format(
        view_where=hybrid.view_where,
        raw_where=hybrid.raw_where,
        view_filter=view_filter,
        raw_filter=raw_filter,
    )
    # The group key comes from a fixed map, never from the input.
    key = f"first.{GROUP_BY[group_by]}" if group_by else "''"
    grouping = "GROUPING SETS ((version), (version, key))" if group_by else "version, key"
    sql = FIGURES.format(key=key, grouping=grouping, rows=rows, only_version=only_version)
    return await ch.query(sql, params)


async def release_figures(
    ch: ClickHouse, scope: Scope, version: str, use_views: bool = True
) -> Figures | None:
    """The figures of one release over the window, or None when it has no update event there."""
    rows = await _query(ch, scope, None, version, use_views)
    return _figures(rows[0][2:]) if rows else None


async def releases(
    ch: ClickHouse, scope: Scope, group_by: str | None = None, use_views: bool = True
) -> list[dict[str, Any]]:
    if group_by is not None and group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {sorted(GROUP_BY)}")
    rows = await _query(ch, scope, group_by, None, use_views)
    total_active = await total_active_devices(ch, scope, use_views) if rows else 0
    by_version: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for version, key, *figures in rows:
        if key is None or group_by is None:
            by_version[version] = {"version": version, **_figures(tuple(figures)).as_json(total_active)}
        else:
            groups.setdefault(version, []).append(
                {"key": key or UNKNOWN, **_figures(tuple(figures)).as_json(total_active)}
            )
    listed = sorted(by_version.values(), key=lambda r: r["version"])
    listed.sort(key=lambda r: r["first_seen"], reverse=True)  # stable: ties keep version ascending
    if group_by is not None:
        for row in listed:
            row["groups"] = sorted(groups[row["version"]], key=lambda g: (-g["devices_attempted"], g["key"]))
    return listed
