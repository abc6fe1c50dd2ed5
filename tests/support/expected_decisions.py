"""Independent computations of the release decisions (compare, segments, confidence), in plain Python over the
events as sent. Written from the rules in docs/api.md; it shares no code with ota_stream.

The Wilson bounds are written in the form (a + z²/2 ± z·sqrt(a(b-a)/b + z²/4)) / (b + z²), algebraically the same
as the documented centre and half-width, so that a slip in either shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tests.support import expected_releases, expected_stability
from tests.support.expected import Window, parse, quantile, rate
from tests.support.expected_releases import UPDATES, rolled_back
from tests.support.scenario import Event, field

Z = 1.959964
SEGMENT_FIELDS = {
    "device_os": ("os", "device_info"),
    "device_os_version": ("os_version", "device_info"),
    "device_model": ("model", "device_info"),
    "device_manufacturer": ("manufacturer", "device_info"),
    "connection_type": ("connection_type", "network_info"),
    "channel": ("channel", "release_info"),
}


def wilson(a: int, b: int) -> list[float]:
    if b == 0:
        return [0.0, 100.0]
    root = Z * math.sqrt(a * (b - a) / b + Z * Z / 4)
    low, high = ((a + Z * Z / 2 + sign * root) / (b + Z * Z) for sign in (-1, 1))
    return [round(100 * max(low, 0.0), 2), round(100 * min(high, 1.0), 2)]


def significant(a1: int, b1: int, a2: int, b2: int) -> bool:
    if not b1 or not b2:
        return False
    p = (a1 + a2) / (b1 + b2)
    variance = p * (1 - p) * (1 / b1 + 1 / b2)
    return variance > 0 and abs((a1 / b1 - a2 / b2) / math.sqrt(variance)) >= Z


def _updates(events: list[Event], window: Window, version: str) -> list[Event]:
    return [
        e
        for e in window.select(events)
        if e["event_type"] in UPDATES and field(e, "target_version", "release_info") == version
    ]


def first_seen(events: list[Event], window: Window) -> dict[str, datetime]:
    """Each version's earliest update event, or without one the start of its first session."""
    seen = {
        version: min(s.first[0] for s in sessions if s.first is not None)
        for version, sessions in expected_stability.by_version(events, window).items()
    }
    updates: dict[str, datetime] = {}
    for e in window.select(events):
        version = field(e, "target_version", "release_info")
        if e["event_type"] in UPDATES and version is not None:
            at = parse(e["timestamp"])
            updates[version] = min(at, updates.get(version, at))
    return {**seen, **updates}


@dataclass(frozen=True)
class Counts:
    attempted: int = 0
    installed: int = 0
    failed_only: int = 0
    rolled: int = 0
    sessions: int = 0
    crashed: int = 0
    devices: int = 0
    crashed_devices: int = 0
    launch_p50: float | None = None

    def pairs(self) -> dict[str, tuple[int, int]]:
        return {
            "install_success_rate": (self.installed, self.installed + self.failed_only),
            "rollback_rate": (self.rolled, self.installed),
            "crash_free_sessions_rate": (self.sessions - self.crashed, self.sessions),
            "crash_free_devices_rate": (self.devices - self.crashed_devices, self.devices),
        }


def counts(events: list[Event], window: Window, version: str) -> Counts:
    """Every count behind a side of compare, over `window`."""
    mine = _updates(events, window, version)
    installed = {e["device_id"] for e in mine if e["event_type"] == "update_installed"}
    failed_only = {e["device_id"] for e in mine if e["event_type"] == "update_failed"} - installed
    rolled = {d for d, v in rolled_back(window.select(events)) if v == version and d in installed}
    sessions = expected_stability.by_version(events, window).get(version, [])
    crashed = [s for s in sessions if s.crashes]
    durations = sorted(d for s in sessions for d in s.durations)
    return Counts(
        len({e["device_id"] for e in mine}),
        len(installed),
        len(failed_only),
        len(rolled),
        len(sessions),
        len(crashed),
        len({s.device for s in sessions}),
        len({s.device for s in crashed}),
        round(quantile(durations, 0.5), 2) if durations else None,
    )


def side(version: str, first: datetime | None, c: Counts) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "version": version,
        "first_seen": None if first is None else first.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "devices_attempted": c.attempted,
    }
    for name, (a, b) in c.pairs().items():
        answer[name] = rate(a, b)
        answer[f"{name}_interval"] = wilson(a, b)
    answer["launch_duration_seconds_p50"] = c.launch_p50
    return answer


def compare(
    events: list[Event], window: Window, version: str, baseline: str = "previous", hours: int = 24
) -> dict[str, Any] | None:
    """The answer, or None where the route answers 404."""
    seen = first_seen(events, window)
    if version not in seen:
        return None
    if baseline == "previous":
        earlier = sorted((at, name) for name, at in seen.items() if at < seen[version])
        if not earlier:
            return None
        baseline = earlier[-1][1]
    sides: dict[str, tuple[datetime | None, Counts]] = {}
    for name in (version, baseline):
        first = seen.get(name)
        if first is None:
            sides[name] = (None, Counts())
            continue
        end = min(first + timedelta(hours=hours) - timedelta(milliseconds=1), window.end)
        sides[name] = (first, counts(events, replace(window, start=first, end=end), name))
    mine, theirs = sides[version][1].pairs(), sides[baseline][1].pairs()
    return {
        "hours": hours,
        "release": side(version, *sides[version]),
        "baseline": side(baseline, *sides[baseline]),
        "deltas": {
            name: {
                "difference": round(rate(*mine[name]) - rate(*theirs[name]), 2),
                "significant": significant(*mine[name], *theirs[name]),
            }
            for name in mine
        },
    }


def segment_of(updates: list[Event], by: str) -> dict[str, str]:
    """Each device's value: that of its latest update event naming one (ties: the greater value)."""
    name, group = SEGMENT_FIELDS[by]
    latest: dict[str, tuple[datetime, str]] = {}
    for e in updates:
        latest.setdefault(e["device_id"], (datetime.min.replace(tzinfo=parse(e["timestamp"]).tzinfo), ""))
        value = field(e, name, group)
        if value is not None:
            latest[e["device_id"]] = max(latest[e["device_id"]], (parse(e["timestamp"]), value))
    return {device: value or "unknown" for device, (_, value) in latest.items()}


def segments(
    events: list[Event], window: Window, version: str, by: str, min_devices: int = 20
) -> dict[str, Any]:
    mine = _updates(events, window, version)
    members: dict[str, set[str]] = {}
    for device, key in segment_of(mine, by).items():
        members.setdefault(key, set()).add(device)
    rolled = {d for d, v in rolled_back(window.select(events)) if v == version}
    sessions = expected_stability.by_version(events, window).get(version, [])
    listed: list[dict[str, Any]] = []
    for key, devices in members.items():
        ours = [e for e in mine if e["device_id"] in devices]
        installed = {e["device_id"] for e in ours if e["event_type"] == "update_installed"}
        failed = {e["device_id"] for e in ours if e["event_type"] == "update_failed"}
        runs = [s for s in sessions if s.device in devices]
        ran_ok = sum(1 for s in runs if not s.crashes)
        failed_only = failed - installed
        listed.append({
            "key": key,
            "devices_attempted": len(devices),
            "install_success_rate": rate(len(installed), len(installed) + len(failed_only)),
            "install_success_rate_interval": wilson(len(installed), len(installed) + len(failed_only)),
            "rollback_rate": rate(len(rolled & installed), len(installed)),
            "crash_free_sessions_rate": rate(ran_ok, len(runs)),
            "sessions": len(runs),
        })  # fmt: skip
    listed.sort(key=lambda s: (-s["devices_attempted"], s["key"]))
    failing = [
        (round(100 - s["install_success_rate_interval"][1], 2), s["key"])
        for s in listed
        if s["devices_attempted"] >= min_devices
    ]
    highest = max((bound for bound, _ in failing), default=None)
    worst = min(key for bound, key in failing if bound == highest) if failing else None
    return {"version": version, "by": by, "segments": listed, "worst": worst}


def health(
    events: list[Event],
    window: Window,
    version: str,
    max_failure_rate: float = 5,
    max_rollback_rate: float = 2,
    min_devices: int = 50,
    max_crash_rate: float | None = None,
    baseline: str | None = None,
    max_regression: float = 1.0,
    hours: int = 24,
    confidence: bool = False,
) -> dict[str, Any]:
    """The gate with its decision parameters: each maximum judged on the Wilson interval of its bad proportion
    with `confidence`, and a significant regression against `baseline` beyond `max_regression` points failing."""
    plain = expected_releases.health(
        events, window, version, max_failure_rate, max_rollback_rate, min_devices, max_crash_rate
    )
    if not confidence and baseline is None:
        return plain
    c = counts(events, window, version)
    checks = [
        ("failure_rate", "max_failure_rate", (c.failed_only, c.installed + c.failed_only), max_failure_rate),
        ("rollback_rate", "max_rollback_rate", (c.rolled, c.installed), max_rollback_rate),
    ]
    if max_crash_rate is not None:
        checks.append(("crash_rate", "max_crash_rate", (c.crashed, c.sessions), max_crash_rate))
    outcomes, answer = [], {k: v for k, v in plain.items() if k not in ("verdict", "reasons")}
    for name, limit_name, (a, b), limit in checks:
        shown = plain[name] if name in plain else round(100 - plain["crash_free_sessions_rate"], 2)
        low, high = wilson(a, b)
        if not confidence:
            outcomes.append(
                ("fail", f"{name} {shown} is above {limit_name} {limit:g}")
                if shown > limit
                else ("pass", None)
            )
        elif low > limit:
            outcomes.append(
                ("fail", f"{name} {shown} (95 % interval [{low}, {high}]) is above {limit_name} {limit:g}")
            )
        elif high <= limit:
            outcomes.append(("pass", None))
        else:
            outcomes.append(
                (
                    "unsure",
                    f"{name} {shown} (95 % interval [{low}, {high}]) may be above {limit_name} "
                    f"{limit:g}: not enough data to tell",
                )
            )
        if confidence:
            answer[f"{name}_interval"] = [low, high]
    if baseline is not None:
        comparison = compare(events, window, version, baseline, hours)
        answer["comparison"] = comparison
        for name, delta in (comparison or {"deltas": {}})["deltas"].items():
            assert comparison is not None
            worse = round(delta["difference"] if name == "rollback_rate" else -delta["difference"], 2)
            if worse > max_regression and delta["significant"]:
                mine, theirs = comparison["release"], comparison["baseline"]
                outcomes.append(
                    (
                        "fail",
                        f"{name} {mine[name]} is {worse} points worse than {theirs['version']}'s "
                        f"{theirs[name]} (more than max_regression {max_regression:g}, and significant)",
                    )
                )
    reasons = [reason for _, reason in outcomes if reason]
    kinds = {kind for kind, _ in outcomes}
    if plain["devices_attempted"] < min_devices:
        verdict = "insufficient_data"
        reasons.insert(
            0, f"devices_attempted {plain['devices_attempted']} is below min_devices {min_devices}"
        )
    else:
        verdict = "fail" if "fail" in kinds else "insufficient_data" if "unsure" in kinds else "pass"
    return {**answer, "verdict": verdict, "reasons": reasons}
