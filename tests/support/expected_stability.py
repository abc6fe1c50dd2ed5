"""Independent computation of `/analytics/stability` and of the crash-free rates of a release, in plain Python over
the events as sent. Written from the rules in docs/api.md; it shares no code with ota_stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.support.expected import Window, parse, quantile, rate
from tests.support.scenario import Event
from tests.support.scenario import field as leaf

UNKNOWN = "unknown"


@dataclass
class Session:
    device: str
    first: tuple[datetime, str, str] | None = (
        None  # (time, event_id, version) of its earliest versioned event
    )
    crashes: set[tuple[str, str]] = field(default_factory=set)
    durations: list[float] = field(default_factory=list)

    @property
    def version(self) -> str | None:
        return self.first[2] if self.first else None


def sessions(events: list[Event], window: Window) -> list[Session]:
    """The window's sessions: one per (tenant, org, app, device, session_id), or per event without a session_id."""
    found: dict[tuple[Any, ...], Session] = {}
    for n, e in enumerate(window.select(events)):
        if e["event_type"] not in ("app_launched", "app_crashed"):
            continue
        own = ("session", e["session_id"]) if e.get("session_id") is not None else ("event", n)
        key = (e["tenant_id"], e["org_id"], e["app_id"], e["device_id"], own)
        session = found.setdefault(key, Session(e["device_id"]))
        version = leaf(e, "current_version", "release_info")
        if version is not None:
            candidate = (parse(e["timestamp"]), e.get("event_id", ""), version)
            session.first = min(session.first or candidate, candidate)
        if e["event_type"] == "app_crashed":
            code, message = leaf(e, "error_code", "error_info"), leaf(e, "error_message", "error_info")
            session.crashes.add((UNKNOWN if code is None else code, UNKNOWN if message is None else message))
        duration = leaf(e, "launch_duration_seconds", "performance_metrics")
        if e["event_type"] == "app_launched" and duration is not None:
            session.durations.append(float(duration))
    return list(found.values())


def _counts(mine: list[Session]) -> dict[str, Any]:
    crashed = [s for s in mine if s.crashes]
    devices, crashed_devices = {s.device for s in mine}, {s.device for s in crashed}
    return {
        "sessions": len(mine),
        "crashed_sessions": len(crashed),
        "crash_free_sessions_rate": rate(len(mine) - len(crashed), len(mine)),
        "devices": len(devices),
        "crashed_devices": len(crashed_devices),
        "crash_free_devices_rate": rate(len(devices) - len(crashed_devices), len(devices)),
    }


def _durations(mine: list[Session]) -> dict[str, Any]:
    samples = sorted(d for s in mine for d in s.durations)
    if not samples:
        return {"avg": None, "p50": None, "p95": None, "samples": 0}
    return {
        "avg": round(sum(samples) / len(samples), 2),
        "p50": round(quantile(samples, 0.5), 2),
        "p95": round(quantile(samples, 0.95), 2),
        "samples": len(samples),
    }


def _top_crashes(mine: list[Session]) -> list[dict[str, Any]]:
    kinds: dict[tuple[str, str], list[Session]] = {}
    for s in mine:
        for crash in s.crashes:
            kinds.setdefault(crash, []).append(s)
    top: list[dict[str, Any]] = [
        {
            "error_code": code,
            "error_message": message,
            "sessions": len(ss),
            "devices": len({s.device for s in ss}),
        }
        for (code, message), ss in kinds.items()
    ]
    return sorted(top, key=lambda c: (-c["sessions"], c["error_code"], c["error_message"]))[:5]


def by_version(events: list[Event], window: Window) -> dict[str, list[Session]]:
    grouped: dict[str, list[Session]] = {}
    for s in sessions(events, window):
        if s.version is not None:
            grouped.setdefault(s.version, []).append(s)
    return grouped


def stability(events: list[Event], window: Window, version: str | None = None) -> dict[str, Any]:
    rows = [
        {
            "version": v,
            **_counts(mine),
            "launch_duration_seconds": _durations(mine),
            "top_crashes": _top_crashes(mine),
        }
        for v, mine in by_version(events, window).items()
        if version is None or v == version
    ]
    return {"versions": sorted(rows, key=lambda r: (-r["sessions"], r["version"]))}


def crash_free(events: list[Event], window: Window, version: str) -> dict[str, float]:
    """The two rates of a release row and of the health gate: 0 when the version has no session."""
    counts = _counts(by_version(events, window).get(version, []))
    return {name: counts[name] for name in ("crash_free_sessions_rate", "crash_free_devices_rate")}
