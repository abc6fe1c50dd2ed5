"""`/analytics/releases/{version}/compare`: a release against a baseline, each over its own first hours.

A new release has hours of data; the one before it has weeks. Comparing their rates over one window would set a
release's first hours against its predecessor's whole life, so each side is measured from its own `first_seen`:
- A version's `first_seen` is that of /analytics/releases (its earliest update event in the request's window) or,
  for a version without an update event there, the start of its first session (stability.first_sessions).
- `previous` is the version of the scope with the latest first_seen strictly before this one's (ties: the greater
  version string); none is NotFound, and so is a `version` without data. A named baseline without data is a side
  of zeros, with no first_seen.
- A side's interval is [first_seen, first_seen + hours), cut at the window's end; every figure of the side is
  computed as if the request's window were that interval (sessions included).
- Each rate carries its Wilson interval; each delta is release - baseline of the rates as reported, significant
  when the pooled two-proportion z test says so (confidence.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ota_stream.errors import OtaStreamError
from ota_stream.models import format_timestamp
from ota_stream.storage.queries import releases, stability
from ota_stream.storage.queries.confidence import Proportion
from ota_stream.storage.queries.scope import QueryScope

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

PREVIOUS = "previous"
DEFAULT_HOURS, MAX_HOURS = 24, 720
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RATES = ("install_success_rate", "rollback_rate", "crash_free_sessions_rate", "crash_free_devices_rate")


class NotFound(OtaStreamError):
    """The version has no data in the window, or it has no previous version: a 404 naming which parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field  # `version` or `baseline`


@dataclass(frozen=True)
class Side:
    """One version's counts over its own interval; its rates and their intervals derive from them."""

    version: str
    first_seen_ms: int | None
    attempted: int = 0
    installed: int = 0
    failed_only: int = 0
    rolled_back: int = 0
    counts: stability.Sessions = field(default_factory=stability.Sessions)
    launch_p50: float | None = None

    def proportions(self) -> dict[str, Proportion]:
        """The four rates as proportions, in RATES order."""
        s = self.counts
        return {
            "install_success_rate": Proportion(self.installed, self.installed + self.failed_only),
            "rollback_rate": Proportion(self.rolled_back, self.installed),
            "crash_free_sessions_rate": Proportion(s.sessions - s.crashed, s.sessions),
            "crash_free_devices_rate": Proportion(s.devices - s.crashed_devices, s.devices),
        }

    def as_json(self) -> dict[str, Any]:
        first_seen = None if self.first_seen_ms is None else format_timestamp(_moment(self.first_seen_ms))
        answer: dict[str, Any] = {
            "version": self.version,
            "first_seen": first_seen,
            "devices_attempted": self.attempted,
        }
        for name, proportion in self.proportions().items():
            answer[name] = proportion.rate
            answer[f"{name}_interval"] = proportion.interval
        answer["launch_duration_seconds_p50"] = self.launch_p50
        return answer


def deltas(release: Side, baseline: Side) -> dict[str, dict[str, Any]]:
    """Per rate: release - baseline (of the rates as reported) and whether the z test finds it significant."""
    mine, theirs = release.proportions(), baseline.proportions()
    return {
        name: {
            "difference": round(mine[name].rate - theirs[name].rate, 2),
            "significant": mine[name].differs_from(theirs[name]),
        }
        for name in RATES
    }


def _moment(epoch_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=epoch_ms)  # exact, unlike a float of seconds


async def first_seen(
    ch: ClickHouse, scope: QueryScope, versions: list[str] | None, use_views: bool = True
) -> dict[str, int]:
    """first_seen in epoch ms of `versions` (None: of every version with data in the window). Versions without
    data are absent."""
    updates, sessions = await asyncio.gather(
        releases.first_updates(ch, scope, use_views), _first_sessions(ch, scope, versions, use_views)
    )
    seen = {**sessions, **updates}  # an update event decides over a session
    return seen if versions is None else {name: at for name, at in seen.items() if name in versions}


async def _first_sessions(
    ch: ClickHouse, scope: QueryScope, versions: list[str] | None, use_views: bool
) -> dict[str, int]:
    """The start of each version's first session: of `versions`, or of every version (which reads every session
    of the window: what `previous` costs)."""
    named: list[str | None] = [None] if versions is None else list(dict.fromkeys(versions))
    found: dict[str, int] = {}
    for part in await asyncio.gather(*(stability.first_sessions(ch, scope, n, use_views) for n in named)):
        found.update(part)
    return found


def previous_of(version: str, seen: dict[str, int]) -> str | None:
    """The version with the latest first_seen strictly before `version`'s (ties: the greater name), or None."""
    mine = seen[version]
    earlier = [(at, name) for name, at in seen.items() if at < mine]
    return max(earlier)[1] if earlier else None


async def side(
    ch: ClickHouse, scope: QueryScope, version: str, first_ms: int | None, hours: int, use_views: bool = True
) -> Side:
    """The figures of `version` over [first_seen, first_seen + hours), within the window."""
    if first_ms is None:
        return Side(version, None)
    start = _moment(first_ms)
    end = min(start + timedelta(hours=hours) - timedelta(milliseconds=1), scope.end)
    interval = replace(scope, start=start, end=end)
    figures, (counts, launch_p50) = await asyncio.gather(
        releases.release_figures(ch, interval, version, use_views),
        stability.of_version(ch, interval, version, use_views),
    )
    if figures is None:
        return Side(version, first_ms, counts=counts, launch_p50=launch_p50)
    f = figures
    return Side(version, first_ms, f.attempted, f.installed, f.failed_only, f.rolled_back, counts, launch_p50)


async def sides(
    ch: ClickHouse,
    scope: QueryScope,
    version: str,
    baseline: str = PREVIOUS,
    hours: int = DEFAULT_HOURS,
    use_views: bool = True,
) -> tuple[Side, Side]:
    """The release and its baseline, each over its own first `hours`; NotFound as the module says.

    The update events' first_seen come back long before the sessions': the release's side, and with `previous`
    the side of the latest earlier release, start then, beside the sessions' query. The guess is kept unless a
    version seen only through sessions turns out to be the previous one."""
    named = None if baseline == PREVIOUS else [version, baseline]
    sessions = asyncio.ensure_future(_first_sessions(ch, scope, named, use_views))
    started: dict[str, asyncio.Future[Side]] = {}
    try:
        updates = await releases.first_updates(ch, scope, use_views)
        guess = previous_of(version, updates) if baseline == PREVIOUS and version in updates else None
        for name in (version, guess if baseline == PREVIOUS else baseline):
            if name is not None and name in updates and name not in started:
                started[name] = asyncio.ensure_future(side(ch, scope, name, updates[name], hours, use_views))
        seen = {**await sessions, **updates}  # an update event decides over a session
        if version not in seen:
            raise NotFound("version", f"version {version} has no data in the window")
        if baseline == PREVIOUS:
            found = previous_of(version, seen)
            if found is None:
                raise NotFound("baseline", f"version {version} has no previous version in the window")
            baseline = found
        for name in (version, baseline):
            if name not in started:
                started[name] = asyncio.ensure_future(side(ch, scope, name, seen.get(name), hours, use_views))
        return await started[version], await started[baseline]
    finally:
        _drop([sessions, *started.values()])


def _drop(futures: list[asyncio.Future[Any]]) -> None:
    """Cancel what is still running (a side guessed wrong, or work after a NotFound), and read what failed."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


async def compare(
    ch: ClickHouse,
    scope: QueryScope,
    version: str,
    baseline: str = PREVIOUS,
    hours: int = DEFAULT_HOURS,
    use_views: bool = True,
) -> dict[str, Any]:
    release, base = await sides(ch, scope, version, baseline, hours, use_views)
    return {
        "hours": hours,
        "release": release.as_json(),
        "baseline": base.as_json(),
        "deltas": deltas(release, base),
    }
