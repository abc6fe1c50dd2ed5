"""Stored events read back as the client sent them (docs/events.md): one column list for drill-down and export.

Columns carry the flat names of docs/events.md (`os`, `channel`, ...), so that a CSV or Parquet export reads like
the flat form and an NDJSON line is a valid flat event. Float32 columns are read through their shortest text, so that a
`rollout_percentage` sent as 12.3 reads back 12.3 and not 12.300000190734863.
"""

from __future__ import annotations

from typing import Any

from ota_stream.models import FLAT_FIELDS

# (name in docs/events.md, column of ota_events_raw)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "event_id"), ("tenant_id", "tenant_id"), ("org_id", "org_id"), ("app_id", "app_id"),
    ("device_id", "device_id"), ("event_type", "event_type"), ("timestamp", "timestamp"),
    ("session_id", "session_id"),
    ("os", "device_os"), ("os_version", "device_os_version"), ("model", "device_model"),
    ("manufacturer", "device_manufacturer"),
    ("current_version", "current_version"), ("target_version", "target_version"),
    ("release_notes", "release_notes"), ("channel", "release_channel"), ("rollout_percentage", "rollout_percentage"),
    ("connection_type", "connection_type"), ("bandwidth_mbps", "bandwidth_mbps"),
    ("download_speed_mbps", "download_speed_mbps"), ("download_duration_seconds", "download_duration_seconds"),
    ("install_duration_seconds", "install_duration_seconds"), ("package_size_bytes", "package_size_bytes"),
    ("battery_level", "battery_level"), ("storage_available_mb", "storage_available_mb"),
    ("launch_duration_seconds", "launch_duration_seconds"),
    ("error_code", "error_code"), ("error_message", "error_message"), ("failure_stage", "failure_stage"),
    ("progress", "progress"), ("cancellation_reason", "cancellation_reason"), ("rollback_reason", "rollback_reason"),
    ("rollback_duration_seconds", "rollback_duration_seconds"), ("metadata", "metadata"),
)  # fmt: skip
NAMES = tuple(name for name, _ in COLUMNS)
FLOAT32 = frozenset({"rollout_percentage", "battery_level", "progress"})
# Expressions read the raw row through the table alias `e`, so that an output name never shadows a column.
RFC3339 = "concat(replaceOne(toString(e.timestamp), ' ', 'T'), 'Z')"


def select_list(overrides: dict[str, str] | None = None) -> str:
    """`expr AS name, ...` for every column; `overrides` replaces the expression of some (e.g. the timestamp)."""
    exprs = []
    for name, column in COLUMNS:
        expr = (overrides or {}).get(name)
        if expr is None:
            expr = f"toFloat64OrNull(toString(e.{column}))" if name in FLOAT32 else f"e.{column}"
        exprs.append(f"{expr} AS `{name}`")
    return ", ".join(exprs)


def nested(row: dict[str, Any]) -> dict[str, Any]:
    """The event object (docs/events.md) of a flat row: groups for the grouped fields, absent fields and empty
    groups left out."""
    event: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or (name == "metadata" and not value):
            continue
        group = FLAT_FIELDS.get(name)
        (event.setdefault(group, {}) if group else event)[name] = value
    return event
