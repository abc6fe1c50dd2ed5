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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota_stream.errors import Unavailable
from ota_stream.storage.queries.scope import Hybrid, QueryScope, rate
from ota_stream.storage.queries.stability_sql import (
    COUNTS,
    FIRST_ROWS,
    FIRST_SESSION,
    NAMES,
    NO_TIES,
    PER_VERSION,
    PER_VERSION_FIGURES,
    SESSION_KEYS,
    SIDE,
    TIES,
    rows,
    sessions,
)

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

TOP_CRASHES = 5  # LIMIT 5 BY in stability_sql.PER_VERSION
TIE_ROUNDS = 3  # new ties can arrive between two runs of a statement
NAMES_KEPT = 100_000
_names: dict[int, str] = {}  # version hash -> version: a hash names one version, for the process's lifetime


class SessionsChanging(Unavailable):
    """New ties among the window's sessions kept arriving between the runs of one statement: try again (503)."""


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
    window: Hybrid, version: str | None, columns: list[str], narrow: bool = True
) -> tuple[str, dict[str, Any]]:
    """The sessions of `window` (`scope.hybrid("hour", use_views)`) with `columns`, and the statement's parameters,
    with no tie resolved (`narrow`: stability_sql.sessions). Run it with `exact` over the same window."""
    params = {**window.params, **NO_TIES}
    if version is not None:
        params["version"] = version
    return sessions(window.view_where, window.raw_where, columns, version is not None, narrow), params


def _last_column(found: list[tuple[Any, ...]]) -> int:
    return sum(row[-1] for row in found)


async def exact(
    ch: ClickHouse,
    window: Hybrid,
    sql: str,
    params: dict[str, Any],
    unresolved: Callable[[list[tuple[Any, ...]]], int] = _last_column,
) -> list[tuple[Any, ...]]:
    """Runs a statement over the sessions of `window` (stability_sql.sessions) whose rows count, in their last
    column (or where `unresolved` reads them), the ties it could not resolve: two rows of a session, not merged
    yet, starting at one millisecond under two versions. When there are some, the ties' versions are read from
    their `first` strings and the statement runs again with them (`params` resolve none: sessions_sql)."""
    ties: dict[str, list[int]] = {}
    for _ in range(TIE_ROUNDS):
        found = await ch.query(sql, {**params, **ties})
        if not unresolved(found):
            return found
        every_row = rows(window.view_where, window.raw_where, ["first"])
        resolved = await ch.query(TIES.format(rows=every_row), window.params)
        ties = {"tie_keys": [key for key, _ in resolved], "tie_versions": [vh for _, vh in resolved]}
    raise SessionsChanging(f"new ties between the sessions of {TIE_ROUNDS} runs of one statement")


async def names(ch: ClickHouse, window: Hybrid, hashes: Iterable[int]) -> dict[int, str]:
    """The versions of version hashes that sessions of `window` have; each is read from storage once per process."""
    hashes = set(hashes)
    unknown = [vh for vh in hashes if vh not in _names]
    if unknown:
        if len(_names) > NAMES_KEPT:
            _names.clear()
        sql = NAMES.format(view_where=window.view_where, raw_where=window.raw_where)
        _names.update(await ch.query(sql, {**window.params, "hashes": unknown}))
    return {vh: _names[vh] for vh in hashes}


async def crash_free(
    ch: ClickHouse, scope: QueryScope, version: str | None = None, use_views: bool = True
) -> dict[str, Sessions]:
    """The counts per version of the window (one version with `version`); versions without a session are absent."""
    window = scope.hybrid("hour", use_views)
    sql, params = sessions_sql(window, version, ["crashed"])
    found = await exact(ch, window, COUNTS.format(sessions=sql), params)
    named = await names(ch, window, (vh for vh, *_ in found))
    return {named[vh]: Sessions(*counts) for vh, *counts, _ in found}


async def of_version(
    ch: ClickHouse, scope: QueryScope, version: str, use_views: bool = True
) -> tuple[Sessions, float | None]:
    """One version's counts and the p50 of its launch durations (None without one), for a short window: its
    sessions are found without narrowing them to the version's candidates first."""
    window = scope.hybrid("hour", use_views)
    sql, params = sessions_sql(window, version, ["crashed", "launch_durations"], narrow=False)
    ((n, crashed, devices, crashed_devices, quantiles, samples, _),) = await exact(
        ch, window, SIDE.format(sessions=sql), params
    )
    p50 = round(quantiles[0], 2) if samples else None
    return Sessions(n, crashed, devices, crashed_devices), p50


async def first_sessions(
    ch: ClickHouse, scope: QueryScope, version: str | None = None, use_views: bool = True
) -> dict[str, int]:
    """When each version's first session of the window starts (its earliest versioned event), in epoch
    milliseconds; only `version` when given. Versions without a session are absent.

    For every version, merging every session of the window costs what /analytics/stability costs. Instead, each
    version's earliest row is checked against its session's other rows: when it is the session's earliest and the
    session has no tie, that session is the version's first (stability_sql.FIRST_ROWS); the versions where it is
    not are looked for one by one, exactly."""
    window = scope.hybrid("hour", use_views)
    if version is not None:
        sql, params = sessions_sql(window, version, [])
        ((start, n, _),) = await exact(ch, window, FIRST_SESSION.format(sessions=sql), params)
        return {version: start} if n else {}
    every_row = rows(window.view_where, window.raw_where, [])
    earliest = await ch.query(FIRST_ROWS.format(rows=every_row), window.params)
    named = await names(ch, window, (vh for vh, _, _ in earliest))
    pairs = [tuple(at) for _, _, at in earliest]
    checked = await ch.query(SESSION_KEYS.format(rows=every_row), {**window.params, "pairs": pairs})
    session_keys = {(device, session): (start, vh) for device, session, start, vh in checked}
    seen = {
        named[vh]: start >> 64 for vh, start, at in earliest if session_keys.get(tuple(at)) == (start, vh)
    }
    for name in named.values():
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
    columns = ["crashed", "crashes", "launch_durations"]
    window = scope.hybrid("hour", use_views)
    sql, params = sessions_sql(window, version, columns)
    found = await exact(
        ch, window, PER_VERSION.format(figures=PER_VERSION_FIGURES.format(sessions=sql)), params
    )
    named = await names(ch, window, (vh for vh, *_ in found))
    versions: dict[str, dict[str, Any]] = {}
    for vh, *figures, code, message, with_it, among, _ in found:
        name = named[vh]
        if name not in versions:
            versions[name] = _version(name, figures)
        if code:  # '' marks a version without a crash
            crash = {"error_code": code, "error_message": message, "sessions": with_it, "devices": among}
            versions[name]["top_crashes"].append(crash)
    listed = list(versions.values())
    listed.sort(key=lambda row: (-row["sessions"], row["version"]))
    return {"versions": listed}
