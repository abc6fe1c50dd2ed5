"""`/analytics/releases/{version}/health`: a verdict a CI job or a rollout controller can gate on
(docs/api.md#get-analyticsreleasesversionhealth).

- `failure_rate`: devices that failed the release and never installed it in the window, over installed devices
  plus those; the complement of `install_success_rate` in /analytics/releases. `rollback_rate` as there.
- `crash_free_sessions_rate` and `crash_free_devices_rate`: of the sessions whose version is the release
  (storage/queries/stability.py). With `max_crash_rate` (no default: unchecked without it), the crash rate
  100 - crash_free_sessions_rate is checked too; a release without a session has a crash-free rate of 0, so its
  crash rate is 100 and the check fails: no session is no evidence that the release runs well.
- `insufficient_data` when `devices_attempted` < `min_devices` (equal is enough), even if a rate is breached;
  otherwise `fail` when a rate is above its maximum, compared as reported (rounded to 2 decimals; equal
  passes), else `pass`.
- `reasons` lists every check that did not pass, in the order devices, failures, rollbacks, crashes; empty on a
  pass.
- A version with no update event in the window is not an error: it has 0 devices, hence insufficient_data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries.releases import release_figures
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.queries.stability import Sessions, crash_free

PARAMETERS = ("max_failure_rate", "max_rollback_rate", "min_devices", "max_crash_rate")
MAX_MIN_DEVICES = 100_000_000


@dataclass(frozen=True)
class Thresholds:
    max_failure_rate: float = 5.0
    max_rollback_rate: float = 2.0
    min_devices: int = 50
    max_crash_rate: float | None = None  # unchecked unless given


def verdict(
    attempted: int, failure_rate: float, rollback_rate: float, limits: Thresholds, crash_rate: float = 0.0
) -> tuple[str, list[str]]:
    reasons = []
    if attempted < limits.min_devices:
        reasons.append(f"devices_attempted {attempted} is below min_devices {limits.min_devices}")
    if failure_rate > limits.max_failure_rate:
        reasons.append(f"failure_rate {failure_rate} is above max_failure_rate {limits.max_failure_rate:g}")
    if rollback_rate > limits.max_rollback_rate:
        reasons.append(
            f"rollback_rate {rollback_rate} is above max_rollback_rate {limits.max_rollback_rate:g}"
        )
    if limits.max_crash_rate is not None and crash_rate > limits.max_crash_rate:
        reasons.append(f"crash_rate {crash_rate} is above max_crash_rate {limits.max_crash_rate:g}")
    if attempted < limits.min_devices:
        return "insufficient_data", reasons
    return ("fail" if reasons else "pass"), reasons


async def health(
    ch: ClickHouse, scope: QueryScope, version: str, limits: Thresholds, use_views: bool = True
) -> dict[str, Any]:
    figures, sessions = await asyncio.gather(
        release_figures(ch, scope, version, use_views), crash_free(ch, scope, version, use_views)
    )
    attempted = figures.attempted if figures else 0
    failure_rate = figures.failure_rate if figures else 0.0
    rollback_rate = figures.rollback_rate if figures else 0.0
    stable = sessions.get(version, Sessions())
    crash_rate = round(100 - stable.crash_free_sessions_rate, 2)
    outcome, reasons = verdict(attempted, failure_rate, rollback_rate, limits, crash_rate)
    return {
        "version": version,
        "verdict": outcome,
        "devices_attempted": attempted,
        "failure_rate": failure_rate,
        "rollback_rate": rollback_rate,
        **stable.rates(),
        "reasons": reasons,
    }
