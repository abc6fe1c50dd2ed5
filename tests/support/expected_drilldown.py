"""Independent computations for the drill-down routes (docs/api.md#analytics: messages, one device's events, apps,
export), in plain Python over the events as sent. Shares no code with ota_stream.
"""

from __future__ import annotations

from typing import Any

from tests.support.expected import Window, parse
from tests.support.scenario import Event

GROUPS = {
    "device_info": ("os", "os_version", "model", "manufacturer"),
    "release_info": ("current_version", "target_version", "release_notes", "channel", "rollout_percentage"),
    "network_info": ("connection_type", "bandwidth_mbps"),
    "performance_metrics": (
        "download_speed_mbps",
        "download_duration_seconds",
        "install_duration_seconds",
        "package_size_bytes",
        "battery_level",
        "storage_available_mb",
        "launch_duration_seconds",
    ),
    "error_info": ("error_code", "error_message", "failure_stage"),
}
TOP = ("event_id", "tenant_id", "org_id", "app_id", "device_id", "event_type", "timestamp", "session_id")
TAIL = ("progress", "cancellation_reason", "rollback_reason", "rollback_duration_seconds", "metadata")
INTEGERS = {"package_size_bytes"}  # every other number reads back as a float


def flat(e: Event) -> dict[str, Any]:
    """Every event field (docs/events.md#fields) under its flat name, None when absent, numbers as the export types
    them."""
    row: dict[str, Any] = {name: e.get(name) for name in TOP + TAIL}
    for group, names in GROUPS.items():
        for name in names:
            row[name] = e[name] if name in e else (e.get(group) or {}).get(name)
    for name, value in row.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and name not in INTEGERS:
            row[name] = float(value)
    row["metadata"] = row["metadata"] or {}
    return row


def nested(e: Event) -> dict[str, Any]:
    """The event object (docs/events.md): grouped fields in their groups, absent fields and empty groups left out."""
    row = flat(e)
    out: dict[str, Any] = {name: row[name] for name in TOP + TAIL if row[name] not in (None, {})}
    for group, names in GROUPS.items():
        values = {name: row[name] for name in names if row[name] is not None}
        if values:
            out[group] = values
    return out


def newest_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (parse(e["timestamp"]), e["event_id"]), reverse=True)


def device_events(
    events: list[Event], window: Window, device_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    mine = [e for e in window.select(events) if e["device_id"] == device_id]
    return [nested(e) for e in newest_first(mine)[:limit]]


def apps(events: list[Event], window: Window) -> list[dict[str, Any]]:
    by_app: dict[tuple[str, str], list[Event]] = {}
    for e in window.select(events):
        by_app.setdefault((e["org_id"], e["app_id"]), []).append(e)
    return [
        {
            "org_id": org,
            "app_id": app,
            "events": len(mine),
            "devices": len({e["device_id"] for e in mine}),
            "last_seen": max(mine, key=lambda e: parse(e["timestamp"]))["timestamp"],
        }
        for (org, app), mine in sorted(by_app.items())
    ]


def failure_messages(
    events: list[Event],
    window: Window,
    error_code: str | None = None,
    target_version: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Event]] = {}
    for e in window.select(events):
        row = flat(e)
        if e["event_type"] != "update_failed":
            continue
        code = "unknown" if row["error_code"] is None else row["error_code"]
        message = "unknown" if row["error_message"] is None else row["error_message"]
        if error_code is not None and code != error_code:
            continue
        version = "unknown" if row["target_version"] is None else row["target_version"]
        if target_version is not None and version != target_version:
            continue
        groups.setdefault((code, message), []).append(e)
    entries = [
        {
            "error_code": code,
            "error_message": message,
            "count": len(mine),
            "affected_devices": len({e["device_id"] for e in mine}),
            "last_seen": newest_first(mine)[0]["timestamp"],
            "samples": [
                {"event_id": e["event_id"], "device_id": e["device_id"], "timestamp": e["timestamp"]}
                for e in newest_first(mine)[:3]
            ],
        }
        for (code, message), mine in groups.items()
    ]
    entries.sort(key=lambda m: (-m["count"], m["error_code"], m["error_message"]))
    return entries[:limit]


def export_rows(events: list[Event], window: Window, event_type: str | None = None) -> list[dict[str, Any]]:
    """The flat rows an export holds, in no particular order (compare sorted by event_id)."""
    selected = window.select(events)
    return [flat(e) for e in selected if event_type is None or e["event_type"] == event_type]
