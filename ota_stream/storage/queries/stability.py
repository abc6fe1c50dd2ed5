"""`/analytics/stability` and the crash-free rates of the release row and the health gate: is the update that runs
healthy? Sessions and crashes per version, from `session_hourly` (schema/011_sessions.sql).

Where the rules leave a choice (also in docs/api.md):
- A session is a distinct (tenant, org, app, device, session_id) among the window's `app_launched` and
  `app_crashed` events; an event without a session_id is a session of its own. Its version is the current_version
  of its earliest event that names one (by timestamp, then event_id); a session with no such event in the window
  has no version and counts in no version. Events outside the window do not exist for these figures, so a session
  cut by an edge is the part of it inside the window.
- A session crashed when it holds an `app_crashed` event; the same crash reported twice is one crash of one session.
- `launch_duration_seconds` takes every `app_launched` event of the version's sessions that carries the field
  (whatever current_version that event names); `top_crashes` the distinct (error_code, error_message) of their
  crashes, a missing value read as `unknown`.
- Versions are listed by sessions descending, then version ascending; top crashes (at most 5) by sessions
  descending, then error_code, then error_message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.scope import QueryScope, rate
from ota_stream.storage.queries.stability_sql import (
    COUNTS,
    FIRST_ROWS,
    FIRST_SESSIONS,
    PER_VERSION,
    SESSION_FIRSTS,
    SIDE,
    rows,
    sessions,
)

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

TOP_CRASHES = 5  # LIMIT 5 BY in stability_sql.PER_VERSION


@dataclass(frozen=True)
class Sessions:
    """The four counts of one version; its crash-free rates derive from them."""

    sessions: int = 0
    crashed: int = 0
    devices: int = 0
    crashed_devices: int = 0

    @property
    def crash_free_sessions_rate(self) -> float:
        return rate(self.sessions - self.crashed, self.sessions)

    @property
    def crash_free_devices_rate(self) -> float:
        return rate(self.devices - self.crashed_devices, self.devices)

    def rates(self) -> dict[str, float]:
        """The two rates, as the release row and the health gate carry them."""
        return {
            "crash_free_sessions_rate": self.crash_free_sessions_rate,
            "crash_free_devices_rate": self.crash_free_devices_rate,
        }


def sessions_sql(
    scope: QueryScope, version: str | None, use_views: bool, columns: list[str], narrow: bool = True
) -> tuple[str, dict[str, Any]]:
    """The window's sessions with `columns`, whole hours from the view unless `use_views` is off, and the
    statement's parameters (`narrow`: stability_sql.sessions)."""
    hybrid = scope.hybrid("hour", use_views)
    params = dict(hybrid.params)
    if version is not None:
        params["version"] = version
    return sessions(hybrid.view_where, hybrid.raw_where, columns, version is not None, narrow), params


async def crash_free(
    ch: ClickHouse, scope: QueryScope, version: str | None = None, use_views: bool = True
) -> dict[str, Sessions]:
    """The counts per version of the window (one version with `version`); versions without a session are absent."""
    sql, params = sessions_sql(scope, version, use_views, ["crashed"])
    found = await ch.query(COUNTS.format(sessions=sql), params)
    return {name: Sessions(*counts) for name, *counts in found}


async def of_version(
    ch: ClickHouse, scope: QueryScope, version: str, use_views: bool = True
) -> tuple[Sessions, float | None]:
    """One version's counts and the p50 of its launch durations (None without one), for a short window: its
    sessions are found without narrowing them to the version's candidates first."""
    sql, params = sessions_sql(scope, version, use_views, ["crashed", "launch_durations"], narrow=False)
    ((n, crashed, devices, crashed_devices, quantiles, samples),) = await ch.query(
        SIDE.format(sessions=sql), params
    )
    p50 = round(quantiles[0], 2) if samples else None
    return Sessions(n, crashed, devices, crashed_devices), p50


async def first_sessions(
    ch: ClickHouse, scope: QueryScope, version: str | None = None, use_views: bool = True
) -> dict[str, int]:
    """When each version's first session of the window starts (its earliest versioned event), in epoch
    milliseconds; only `version` when given. Versions without a session are absent.

    For every version, merging every session of the window costs what /analytics/stability costs. Instead, each
    version's earliest row is checked against its session's other rows: when it is the session's earliest, that
    session is the version's first (stability_sql.FIRST_ROWS); the versions where it is not are looked for one by
    one, exactly."""
    if version is not None:
        sql, params = sessions_sql(scope, version, use_views, [])
        found = await ch.query(FIRST_SESSIONS.format(sessions=sql), params)
        return {name: int(first[:13]) for name, first in found}
    hybrid = scope.hybrid("hour", use_views)
    every_row = rows(hybrid.view_where, hybrid.raw_where, [])
    earliest = await ch.query(FIRST_ROWS.format(rows=every_row), hybrid.params)
    pairs = [tuple(at) for _, _, at in earliest]
    checked = await ch.query(SESSION_FIRSTS.format(rows=every_row), {**hybrid.params, "pairs": pairs})
    session_first = {(device, session): first for device, session, first in checked}
    seen = {name: int(first[:13]) for name, first, at in earliest if session_first.get(tuple(at)) == first}
    for name, _, _ in earliest:
        if name not in seen:
            seen.update(await first_sessions(ch, scope, name, use_views))
    return seen


def _summary(quantiles: list[float], total: float, samples: int) -> dict[str, Any]:
    if not samples:
        return {"avg": None, "p50": None, "p95": None, "samples": 0}
    p50, p95 = quantiles
    return {"avg": round(total / samples, 2), "p50": round(p50, 2), "p95": round(p95, 2), "samples": samples}


def _version(name: str, figures: list[Any]) -> dict[str, Any]:
    """A version's answer, its top crashes still to come."""
    n, crashed, devices, crashed_devices, quantiles, total, samples = figures
    counts = Sessions(n, crashed, devices, crashed_devices)
    return {
        "version": name,
        "sessions": n,
        "crashed_sessions": crashed,
        "crash_free_sessions_rate": counts.crash_free_sessions_rate,
        "devices": devices,
        "crashed_devices": crashed_devices,
        "crash_free_devices_rate": counts.crash_free_devices_rate,
        "launch_duration_seconds": _summary(quantiles, total, samples),
        "top_crashes": [],
    }


async def stability(
    ch: ClickHouse, scope: QueryScope, version: str | None = None, use_views: bool = True
) -> dict[str, Any]:
    """`{"versions": [...]}`: every version with a session in the window (only `version` when given)."""
    sql, params = sessions_sql(scope, version, use_views, ["crashed", "crashes", "launch_durations"])
    versions: dict[str, dict[str, Any]] = {}
    found = await ch.query(PER_VERSION.format(sessions=sql), params)
    for name, *figures, code, message, with_it, among in found:
        if name not in versions:
            versions[name] = _version(name, figures)
        if code:  # '' marks a version without a crash
            crash = {"error_code": code, "error_message": message, "sessions": with_it, "devices": among}
            versions[name]["top_crashes"].append(crash)
    listed = list(versions.values())
    listed.sort(key=lambda row: (-row["sessions"], row["version"]))
    return {"versions": listed}
