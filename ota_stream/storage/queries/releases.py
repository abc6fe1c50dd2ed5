"""`/analytics/releases` and the figures behind the health gate (docs/api.md#get-analyticsreleases), from
`release_devices_hourly`.

Choices docs/api.md#get-analyticsreleases states:
- An update event is one of the seven `update_*` types (release_sql.UPDATE_TYPES, named one by one so that
  activity types such as `app_launched` never count). A release is a `target_version` with an update event in
  the window.
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
- Devices and versions are grouped by 64-bit hashes (cityHash64), as in the other views: a collision within one
  app is improbable (about n^2 / 2^65).
- Each release row also carries the crash-free rates of the sessions whose version is the release
  (storage/queries/stability.py), 0 when it has none; groups do not (a session belongs to no update event).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ota_stream.models import UNKNOWN
from ota_stream.storage.queries import active_devices, stability
from ota_stream.storage.queries.release_sql import (
    FAST,
    FIRST_SEEN,
    GROUPED,
    SESSIONS,
    TOTAL,
    UPDATES,
    Where,
    rolled_back,
    rows,
    version_devices,
)
from ota_stream.storage.queries.scope import QueryScope, rate
from ota_stream.storage.queries.stability_sql import NO_TIES
from ota_stream.storage.queries.stability_sql import sessions as session_rows

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

# group_by parameter -> position in the first_update tuple (timestamp, channel, os, rollout percentage)
GROUP_BY = {"channel": 2, "device_os": 3, "rollout_percentage": 4}
CURVE_PERCENTS = (50, 90)
HOUR_MS = 3_600_000


@dataclass
class Figures:
    """The counts of one release or group; every release figure derives from them."""

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


def _quantiles(quantiles: list[float], samples: int) -> tuple[float | None, float | None]:
    return (round(quantiles[0], 2), round(quantiles[1], 2)) if samples else (None, None)


def _curve(curve: tuple[list[int], list[int]]) -> list[tuple[int, int]]:
    """sumMap's (hour indexes, counts) as (hour in epoch seconds, devices)."""
    hours, counts = curve
    return [(hour * 3600, n) for hour, n in zip(hours, counts, strict=True)]


def window_where(scope: QueryScope, version: str | None, use_views: bool, params: dict[str, Any]) -> Where:
    """The window's conditions; their parameters go into `params`."""
    hybrid = scope.hybrid("hour", use_views)
    exact, exact_params = scope.window()
    params.update(hybrid.params, **exact_params)
    if version is None:
        return Where(hybrid.view_where, hybrid.raw_where, exact)
    params["version"] = version
    return Where(hybrid.view_where, hybrid.raw_where, exact, "version = {version:String}")


def _active_states(scope: QueryScope, use_views: bool, params: dict[str, Any]) -> str:
    """The states of total_active_devices, on whole days: their window parameters are prefixed `day_`."""
    days = scope.hybrid("day", use_views, prefix="day_")
    params.update(days.params)
    return active_devices.STATES.format(view_where=days.view_where, raw_where=days.raw_where)


def fast_branches(
    scope: QueryScope, version: str | None, use_views: bool, params: dict[str, Any]
) -> dict[str, str]:
    """The branches of release_sql.FAST for the window (one release with `version`: no total, no sessions); their
    parameters go into `params`."""
    where = window_where(scope, version, use_views, params)
    devices = f"AND device IN {version_devices(where)}" if version else ""
    total = sessions = ""
    if version is None:
        total = TOTAL.format(active_states=_active_states(scope, use_views, params))
        # The session rows read the same hourly window as the release rows, with the same parameters.
        sessions = SESSIONS.format(sessions=session_rows(where.view, where.raw, ["crashed"], False))
        params.update(NO_TIES)
    return {
        "pairs": rows(where, ["first_install", "failed"]),
        "durations": rows(where, ["first_ts", "install_durations"]),
        "rolled_back": rolled_back(where, devices),
        "total": total,
        "sessions": sessions,
    }


def _unresolved(found: list[tuple[Any, ...]]) -> int:
    """The unresolved ties of release_sql.SESSIONS' rows, in the column of first_seen."""
    return sum(row[7] for row in found if row[0] == "sessions")


async def _fast(
    ch: ClickHouse, scope: QueryScope, version: str | None, use_views: bool
) -> tuple[dict[str, Figures], int, dict[str, stability.Sessions]]:
    """Figures per release (one release with `version`); without `version`, total active devices and the session
    counts of every version too (0 and none with it)."""
    params: dict[str, Any] = {}
    sql = FAST.format(**fast_branches(scope, version, use_views, params))
    parts: dict[str, dict[int, tuple[Any, ...]]] = {}
    found = await stability.exact(ch, scope.hybrid("hour", use_views), sql, params, _unresolved)
    for part, vh, *values in found:
        parts.setdefault(part, {})[vh] = tuple(values)
    total_active = next(iter(parts.get("total", {}).values()), ("", 0))[1]
    sessions = parts.get("sessions", {})
    figures, counts = {}, {}
    for vh, (name, _, _, _, _, first_ms, quantiles, samples, _) in parts.get("rows", {}).items():
        _, attempted, installed, failed, failed_only, _, _, _, curve = parts["pairs"][vh]
        rolled = parts.get("rolled_back", {}).get(vh, ("", 0))[1]
        p50, p95 = _quantiles(quantiles, samples)
        figures[name] = Figures(
            first_ms, attempted, installed, failed, failed_only, rolled, p50, p95, _curve(curve)
        )
        if vh in sessions:
            counts[name] = stability.Sessions(*sessions[vh][1:5])
    return figures, total_active, counts


async def _grouped(
    ch: ClickHouse, scope: QueryScope, group_by: str, use_views: bool
) -> tuple[dict[str, Figures], dict[str, list[tuple[str, Figures]]], int]:
    params: dict[str, Any] = {}
    where = window_where(scope, None, use_views, params)
    # The group key comes from a fixed map, never from the input.
    sql = GROUPED.format(
        key=f"first.{GROUP_BY[group_by]}",
        rows=rows(where, ["first_update", "first_install", "failed", "install_durations"]),
        rolled_back=rolled_back(where),
        total_active=f"SELECT uniqExactMerge(devices) FROM {_active_states(scope, use_views, params)}",
    )
    releases: dict[str, Figures] = {}
    groups: dict[str, list[tuple[str, Figures]]] = {}
    rows_ = await ch.query(sql, params)
    for (
        version,
        key,
        first_ms,
        attempted,
        installed,
        failed,
        failed_only,
        rolled,
        q,
        samples,
        curve,
        _,
    ) in rows_:
        p50, p95 = _quantiles(q, samples)
        figures = Figures(
            first_ms, attempted, installed, failed, failed_only, rolled, p50, p95, _curve(curve)
        )
        if key is None:
            releases[version] = figures
        else:
            groups.setdefault(version, []).append((key or UNKNOWN, figures))
    return releases, groups, rows_[0][-1] if rows_ else 0


async def first_updates(ch: ClickHouse, scope: QueryScope, use_views: bool = True) -> dict[str, int]:
    """Each release's first_seen in the window (its earliest update event), in epoch milliseconds."""
    params: dict[str, Any] = {}
    sql = FIRST_SEEN.format(rows=rows(window_where(scope, None, use_views, params), ["first_ts"]))
    return {version: first_ms for version, first_ms in await ch.query(sql, params)}


async def on_channel(ch: ClickHouse, scope: QueryScope, channel: str, versions: list[str]) -> set[str]:
    """Those of `versions` with an update event on `channel` in the window (raw: a channel is an event's)."""
    where, params = scope.window()
    params.update(channel=channel, versions=versions)
    sql = f"""
        SELECT DISTINCT assumeNotNull(target_version) FROM ota_events_raw
        WHERE {where} AND release_channel = {{channel:String}} AND target_version IN {{versions:Array(String)}}
            AND event_type IN {UPDATES}"""
    return {version for (version,) in await ch.query(sql, params)}


async def release_figures(
    ch: ClickHouse, scope: QueryScope, version: str, use_views: bool = True
) -> Figures | None:
    """The figures of one release over the window, or None when it has no update event there."""
    figures, _, _ = await _fast(ch, scope, version, use_views)
    return figures.get(version)


async def releases(
    ch: ClickHouse, scope: QueryScope, group_by: str | None = None, use_views: bool = True
) -> list[dict[str, Any]]:
    if group_by is not None and group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {sorted(GROUP_BY)}")
    groups: dict[str, list[tuple[str, Figures]]] = {}
    if group_by is None:
        figures, total_active, sessions = await _fast(ch, scope, None, use_views)
    else:
        crash_free = stability.crash_free(ch, scope, use_views=use_views)  # in parallel with the figures
        (figures, groups, total_active), sessions = await asyncio.gather(
            _grouped(ch, scope, group_by, use_views), crash_free
        )
    listed = []
    for version in sorted(figures):
        rates = sessions.get(version, stability.Sessions()).rates()
        row = {"version": version, **figures[version].as_json(total_active), **rates}
        if group_by is not None:
            members = [{"key": key, **f.as_json(total_active)} for key, f in groups[version]]
            row["groups"] = sorted(members, key=lambda g: (-g["devices_attempted"], g["key"]))
        listed.append(row)
    listed.sort(key=lambda r: r["first_seen"], reverse=True)  # stable: ties keep version ascending
    return listed
