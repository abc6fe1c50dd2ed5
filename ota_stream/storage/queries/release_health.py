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
- With `confidence`, a maximum is breached only when the Wilson lower bound of the bad proportion is above it,
  and met only when the upper bound is at or below it; in between the rule cannot tell, and the verdict is
  `insufficient_data` unless another rule fails. The answer then carries each checked rate's interval.
- With `baseline`, the release is compared with it as /compare does (each over its own first `hours`), and fails
  when one of the four rates is worse than the baseline's by more than `max_regression` points and the difference
  is significant. No baseline to compare with (no previous version, or no data for the release) fails nothing;
  the answer's `comparison` is then None.
- `reasons` lists every check that did not pass, in the order devices, failures, rollbacks, crashes, regressions;
  empty on a pass.
- A version with no update event in the window is not an error: it has 0 devices, hence insufficient_data.
Without the new parameters (`confidence`, `baseline`) every answer is what it was before they existed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries import compare
from ota_stream.storage.queries.confidence import Proportion
from ota_stream.storage.queries.releases import Figures, release_figures
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.queries.stability import Sessions, crash_free

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

PARAMETERS = ("max_failure_rate", "max_rollback_rate", "min_devices", "max_crash_rate")
DECISION_PARAMETERS = ("baseline", "max_regression", "hours", "confidence")
MAX_MIN_DEVICES = 100_000_000
PASS, FAIL, UNSURE = "pass", "fail", "insufficient_data"
# The rates /compare reports, and whether a higher value is the better one.
HIGHER_IS_BETTER = {
    "install_success_rate": True,
    "rollback_rate": False,
    "crash_free_sessions_rate": True,
    "crash_free_devices_rate": True,
}


@dataclass(frozen=True)
class Thresholds:
    max_failure_rate: float = 5.0
    max_rollback_rate: float = 2.0
    min_devices: int = 50
    max_crash_rate: float | None = None  # unchecked unless given
    baseline: str | None = None  # a version or compare.PREVIOUS: the regression check, unless None
    max_regression: float = 1.0  # percentage points
    hours: int = compare.DEFAULT_HOURS  # of each side of the comparison
    confidence: bool = False


@dataclass(frozen=True)
class Rule:
    """A maximum on a bad proportion: its name in reasons and answers, the proportion, the maximum."""

    name: str
    limit_name: str
    bad: Proportion
    limit: float
    reported: float  # the rate as the answer shows it


def judge(rule: Rule, confidence: bool) -> tuple[str, str | None]:
    """The rule's outcome and, unless it passes, the reason."""
    limit = f"{rule.limit_name} {rule.limit:g}"
    if not confidence:
        if rule.reported > rule.limit:
            return FAIL, f"{rule.name} {rule.reported} is above {limit}"
        return PASS, None
    low, high = rule.bad.interval
    shown = f"{rule.name} {rule.reported} (95 % interval [{low}, {high}])"
    if low > rule.limit:
        return FAIL, f"{shown} is above {limit}"
    if high <= rule.limit:
        return PASS, None
    return UNSURE, f"{shown} may be above {limit}: not enough data to tell"


def regressions(comparison: dict[str, Any], max_regression: float) -> list[str]:
    """A reason per rate worse than the baseline's by more than `max_regression` points, significantly."""
    release, baseline = comparison["release"], comparison["baseline"]
    found = []
    for name, higher_is_better in HIGHER_IS_BETTER.items():
        delta = comparison["deltas"][name]
        worse = round(-delta["difference"] if higher_is_better else delta["difference"], 2)
        if worse > max_regression and delta["significant"]:
            found.append(
                f"{name} {release[name]} is {worse} points worse than {baseline['version']}'s {baseline[name]} "
                f"(more than max_regression {max_regression:g}, and significant)"
            )
    return found


def verdict(
    attempted: int, outcomes: list[tuple[str, str | None]], limits: Thresholds
) -> tuple[str, list[str]]:
    reasons = [reason for _, reason in outcomes if reason is not None]
    if attempted < limits.min_devices:
        below = f"devices_attempted {attempted} is below min_devices {limits.min_devices}"
        return UNSURE, [below, *reasons]
    found = {outcome for outcome, _ in outcomes}
    return (FAIL if FAIL in found else UNSURE if UNSURE in found else PASS), reasons


def rules(figures: Figures | None, counts: Sessions, limits: Thresholds) -> list[Rule]:
    installed = figures.installed if figures else 0
    failed_only = figures.failed_only if figures else 0
    failures = Proportion(failed_only, installed + failed_only)
    rollbacks = Proportion(figures.rolled_back if figures else 0, installed)
    found = [
        Rule("failure_rate", "max_failure_rate", failures, limits.max_failure_rate, failures.rate),
        Rule("rollback_rate", "max_rollback_rate", rollbacks, limits.max_rollback_rate, rollbacks.rate),
    ]
    if limits.max_crash_rate is not None:
        crashes = Proportion(counts.crashed, counts.sessions)
        crash_rate = round(100 - counts.crash_free_sessions_rate, 2)
        found.append(Rule("crash_rate", "max_crash_rate", crashes, limits.max_crash_rate, crash_rate))
    return found


async def _comparison(
    ch: ClickHouse, scope: QueryScope, version: str, limits: Thresholds, use_views: bool
) -> dict[str, Any] | None:
    if limits.baseline is None:
        return None
    try:
        return await compare.compare(ch, scope, version, limits.baseline, limits.hours, use_views)
    except compare.NotFound:
        return None


async def health(
    ch: ClickHouse, scope: QueryScope, version: str, limits: Thresholds, use_views: bool = True
) -> dict[str, Any]:
    figures, sessions, comparison = await asyncio.gather(
        release_figures(ch, scope, version, use_views),
        crash_free(ch, scope, version, use_views),
        _comparison(ch, scope, version, limits, use_views),
    )
    stable = sessions.get(version, Sessions())
    checked = rules(figures, stable, limits)
    outcomes = [judge(rule, limits.confidence) for rule in checked]
    if comparison is not None:
        outcomes += [(FAIL, reason) for reason in regressions(comparison, limits.max_regression)]
    outcome, reasons = verdict(figures.attempted if figures else 0, outcomes, limits)
    answer: dict[str, Any] = {
        "version": version,
        "verdict": outcome,
        "devices_attempted": figures.attempted if figures else 0,
        "failure_rate": checked[0].reported,
        "rollback_rate": checked[1].reported,
        **stable.rates(),
        "reasons": reasons,
    }
    if limits.confidence:
        for rule in checked:
            answer[f"{rule.name}_interval"] = rule.bad.interval
    if limits.baseline is not None:
        answer["comparison"] = comparison
    return answer
