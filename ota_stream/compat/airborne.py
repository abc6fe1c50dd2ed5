"""Airborne (juspay/airborne): `POST /analytics/events`, one event.

The body, as its server parses it (airborne_analytics_server/src/common/models.rs, `OtaEventIngestRequest`, and
src/handlers/events.rs `ingest_event`): required `org_id`, `app_id`, `device_id`, `event_type` (SCREAMING_SNAKE,
`OtaEventType`); optional `session_id`, `release_id`, `current_js_version`, `target_js_version`,
`rollout_percentage`, `os_version`, `app_version`, `device_type`, `network_type`, `error_code`, `error_message`,
`stack_trace`, `download_size_bytes`, `download_time_ms`, `apply_time_ms`, `payload`. Its Postman collection
(airborne_analytics_server/OTA Analytics.postman_collection.json) also sends `tenant_id` and numbers as text. Its
iOS client sends the same fields in camelCase (the column names of airborne_analytics_server/init-clickhouse.sql:
`orgId`, `currentJsVersion`, `downloadTimeMs`, ...) with `timestamp` in epoch milliseconds, as a float; its
Android client sends "" for absent values. The server stamps the time of receipt, and answers
`{"status": "success", "message", "event_id", "timestamp"}` (events.rs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ota_stream.compat.base import SOURCE_TYPE, Draft, choice, require, require_object, snake
from ota_stream.models import FieldError, InvalidEvent

ANSWER_MESSAGE = "OTA event queued for processing"  # events.rs

# OtaEventType -> (event type, failure_stage, metadata.result)
EVENT_TYPES: dict[str, tuple[str, str | None, str | None]] = {
    "UPDATE_CHECK": ("update_checked", None, None),
    "UPDATE_AVAILABLE": ("update_checked", None, "available"),
    "UPDATE_NOT_AVAILABLE": ("update_checked", None, "not_available"),
    "DOWNLOAD_STARTED": ("update_started", None, None),
    "DOWNLOAD_PROGRESS": ("update_downloading", None, None),
    "DOWNLOAD_COMPLETED": ("update_downloaded", None, None),
    "DOWNLOAD_FAILED": ("update_failed", "download", None),
    "APPLY_STARTED": ("update_installing", None, None),
    "APPLY_SUCCESS": ("update_installed", None, None),
    "APPLY_FAILURE": ("update_failed", "install", None),
    "ROLLBACK_INITIATED": ("rollback_started", None, None),
    "ROLLBACK_COMPLETED": ("rollback_completed", None, None),
    "ROLLBACK_FAILED": ("update_failed", "rollback", None),
}
# Airborne field -> event field (strings)
TEXT_FIELDS = {
    "tenant_id": "tenant_id",
    "org_id": "org_id",
    "app_id": "app_id",
    "device_id": "device_id",
    "session_id": "session_id",
    "event_id": "event_id",
    "current_js_version": "current_version",
    "target_js_version": "target_version",
    "device_type": "os",
    "os_version": "os_version",
    "network_type": "connection_type",
    "error_code": "error_code",
    "error_message": "error_message",
}
# Airborne field -> (event field, scale, integer)
NUMBER_FIELDS = {
    "rollout_percentage": ("rollout_percentage", 1.0, False),
    "download_size_bytes": ("package_size_bytes", 1.0, True),
    "download_time_ms": ("download_duration_seconds", 0.001, False),
    "apply_time_ms": ("install_duration_seconds", 0.001, False),
}
HANDLED = {"event_type", "timestamp", *TEXT_FIELDS, *NUMBER_FIELDS}


def to_event(body: Any, received: datetime) -> Draft:
    """One Airborne event (snake_case or the iOS camelCase form) as a draft event (docs/events.md)."""
    raw = require_object(body)
    data: dict[str, Any] = {}
    names: dict[str, str] = {}  # snake name -> the name the client sent
    for key, value in raw.items():
        name = snake(key)
        if name in data and data[name] != value:
            raise InvalidEvent([FieldError(key, f"conflicts with {names[name]}; send one of them")])
        data[name], names[name] = value, key
    require(data, "org_id", "app_id", "device_id", "event_type", sent=names)
    source_type = choice(data, "event_type", EVENT_TYPES, sent=names)
    event_type, stage, result = EVENT_TYPES[source_type]
    draft = Draft(received)
    draft.put("event_type", event_type, names["event_type"])
    draft.keep(SOURCE_TYPE, source_type)
    for name, leaf in TEXT_FIELDS.items():
        draft.put(leaf, data.get(name), names.get(name, name))
    for name, (leaf, scale, integer) in NUMBER_FIELDS.items():
        draft.number(leaf, data.get(name), names.get(name, name), scale, integer)
    draft.timestamp(data.get("timestamp"), names.get("timestamp", "timestamp"))
    if stage is not None:
        draft.put("failure_stage", stage, names["event_type"])
    if result is not None:
        draft.keep("result", result)
    for name, value in data.items():
        if name not in HANDLED:
            draft.keep(name, value)  # release_id, app_version, stack_trace, payload, anything newer
    return draft
