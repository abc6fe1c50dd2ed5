"""Independent computations of the release figures (docs/api.md#get-analyticsreleases), in plain Python over the
events as sent.

Written from docs/api.md alone, its release sections and the choices they state; it shares no code with ota_stream.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

from tests.support import expected_stability
from tests.support.expected import Window, parse, quantile, rate
from tests.support.scenario import Event, field

UPDATES = {
    "update_started",
    "update_downloading",
    "update_downloaded",
    "update_installing",
    "update_installed",
    "update_failed",
    "update_cancelled",
}
GROUP_FIELDS = {"channel": 1, "device_os": 2, "rollout_percentage": 3}  # position in first_key()


def float32_text(value: float) -> str:
    """How ClickHouse prints a Float32: the shortest text that reads back as the same float32."""
    text = str(np.float32(value))
    return text[:-2] if text.endswith(".0") else text


def first_key(e: Event) -> tuple[datetime, str, str, str]:
    rollout = field(e, "rollout_percentage", "release_info")
    return (
        parse(e["timestamp"]),
        field(e, "channel", "release_info") or "",
        field(e, "os", "device_info") or "",
        "" if rollout is None else float32_text(rollout),
    )


def rolled_back(selected: list[Event]) -> set[tuple[str, str]]:
    """(device, version) pairs where an install is directly followed by a rollback, per device."""
    sequences: dict[str, list[tuple[datetime, int, str]]] = {}
    for e in selected:
        if e["event_type"] == "update_installed":
            kind = 0
        elif e["event_type"] == "rollback_completed":
            kind = 1
        else:
            continue
        version = (field(e, "target_version", "release_info") or "") if kind == 0 else ""
        sequences.setdefault(e["device_id"], []).append((parse(e["timestamp"]), kind, version))
    pairs = set()
    for device, sequence in sequences.items():
        sequence.sort()
        for this, after in pairwise(sequence):
            if this[1] == 0 and after[1] == 1:
                pairs.add((device, this[2]))
    return pairs


def _figures(
    version: str, devices: set[str], events: list[Event], rolled: set[tuple[str, str]], total_active: int
) -> dict[str, Any]:
    mine = [e for e in events if e["device_id"] in devices]
    first_seen = min(parse(e["timestamp"]) for e in mine)
    installed = {e["device_id"] for e in mine if e["event_type"] == "update_installed"}
    failed = {e["device_id"] for e in mine if e["event_type"] == "update_failed"}
    rolled_devices = {d for d in installed if (d, version) in rolled}
    durations = sorted(
        float(v)
        for e in mine
        if e["event_type"] == "update_installed"
        and (v := field(e, "install_duration_seconds", "performance_metrics")) is not None
    )
    first_install: dict[str, datetime] = {}
    for e in mine:
        if e["event_type"] == "update_installed":
            at = parse(e["timestamp"])
            first_install[e["device_id"]] = min(at, first_install.get(e["device_id"], at))
    per_hour = Counter(at.replace(minute=0, second=0, microsecond=0) for at in first_install.values())
    curve, cumulative = [], 0
    reached: dict[int, float | None] = {50: None, 90: None}
    for hour in sorted(per_hour):
        cumulative += per_hour[hour]
        curve.append(
            {
                "hour": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "devices_installed_cumulative": cumulative,
                "share_of_active_devices": rate(cumulative, total_active),
            }
        )
        for percent in (50, 90):
            if reached[percent] is None and cumulative / total_active >= percent / 100:
                end_of_hour = hour + timedelta(hours=1)
                reached[percent] = round((end_of_hour - first_seen).total_seconds(), 3)
    failed_only = failed - installed
    return {
        "first_seen": first_seen.strftime("%Y-%m-%dT%H:%M:%S.") + f"{first_seen.microsecond // 1000:03d}Z",
        "devices_attempted": len(devices),
        "devices_installed": len(installed),
        "devices_failed": len(failed),
        "devices_rolled_back": len(rolled_devices),
        "install_success_rate": rate(len(installed), len(installed) + len(failed_only)),
        "rollback_rate": rate(len(rolled_devices), len(installed)),
        "install_duration_seconds": {
            "p50": round(quantile(durations, 0.5), 2) if durations else None,
            "p95": round(quantile(durations, 0.95), 2) if durations else None,
        },
        "adoption_curve": curve,
        "time_to_50_percent_seconds": reached[50],
        "time_to_90_percent_seconds": reached[90],
    }


def releases(events: list[Event], window: Window, group_by: str | None = None) -> list[dict[str, Any]]:
    selected = window.select(events)
    total_active = len({e["device_id"] for e in selected})
    rolled = rolled_back(selected)
    by_version: dict[str, list[Event]] = {}
    for e in selected:
        version = field(e, "target_version", "release_info")
        if e["event_type"] in UPDATES and version is not None:
            by_version.setdefault(version, []).append(e)
    rows = []
    for version, mine in by_version.items():
        devices = {e["device_id"] for e in mine}
        crash_free = expected_stability.crash_free(events, window, version)
        row = {"version": version, **_figures(version, devices, mine, rolled, total_active), **crash_free}
        if group_by is not None:
            first: dict[str, tuple[datetime, str, str, str]] = {}
            for e in mine:
                key = first_key(e)
                first[e["device_id"]] = min(key, first.get(e["device_id"], key))
            members: dict[object, set[str]] = {}
            for device, key in first.items():
                members.setdefault(key[GROUP_FIELDS[group_by]] or "unknown", set()).add(device)
            groups = [
                {"key": k, **_figures(version, d, mine, rolled, total_active)} for k, d in members.items()
            ]
            row["groups"] = sorted(groups, key=lambda g: (-g["devices_attempted"], g["key"]))
        rows.append(row)
    rows.sort(key=lambda r: r["version"])
    rows.sort(key=lambda r: r["first_seen"], reverse=True)
    return rows


def health(
    events: list[Event],
    window: Window,
    version: str,
    max_failure_rate: float = 5,
    max_rollback_rate: float = 2,
    min_devices: int = 50,
    max_crash_rate: float | None = None,
) -> dict[str, Any]:
    """The gate: insufficient_data below min_devices, else fail when a rate is above its maximum (equal passes);
    the crash rate (100 - crash-free sessions) only when max_crash_rate is given."""
    mine = [
        e
        for e in window.select(events)
        if field(e, "target_version", "release_info") == version and e["event_type"] in UPDATES
    ]
    installed = {e["device_id"] for e in mine if e["event_type"] == "update_installed"}
    failed_only = {e["device_id"] for e in mine if e["event_type"] == "update_failed"} - installed
    rolled = {d for d, v in rolled_back(window.select(events)) if v == version and d in installed}
    attempted = len({e["device_id"] for e in mine})
    failure_rate = rate(len(failed_only), len(installed) + len(failed_only))
    rollback_rate = rate(len(rolled), len(installed))
    reasons = []
    if attempted < min_devices:
        reasons.append(f"devices_attempted {attempted} is below min_devices {min_devices}")
    if failure_rate > max_failure_rate:
        reasons.append(f"failure_rate {failure_rate} is above max_failure_rate {max_failure_rate:g}")
    if rollback_rate > max_rollback_rate:
        reasons.append(f"rollback_rate {rollback_rate} is above max_rollback_rate {max_rollback_rate:g}")
    crash_free = expected_stability.crash_free(events, window, version)
    crash_rate = round(100 - crash_free["crash_free_sessions_rate"], 2)
    if max_crash_rate is not None and crash_rate > max_crash_rate:
        reasons.append(f"crash_rate {crash_rate} is above max_crash_rate {max_crash_rate:g}")
    verdict = "insufficient_data" if attempted < min_devices else "fail" if reasons else "pass"
    return {
        "version": version,
        "verdict": verdict,
        "devices_attempted": attempted,
        "failure_rate": failure_rate,
        "rollback_rate": rollback_rate,
        **crash_free,
        "reasons": reasons,
    }
