"""The release part of the OpenAPI document: release health, compare, segments, stability, drill-down and export,
with their answers' schemas."""

from __future__ import annotations

from typing import Any

from ota_stream.models import EventType
from ota_stream.storage.queries import compare, device_events, failure_messages, releases, segments, stability
from ota_stream.storage.queries.release_health import MAX_MIN_DEVICES
from ota_stream.web.openapi_schema import (
    INTEGER,
    NULLABLE_NUMBER,
    NUMBER,
    RATE,
    TEXT,
    TIMESTAMP,
    array,
    data,
    error,
    json_body,
    obj,
    param,
)

STORED_TEXT = {"type": "string", "minLength": 1, "maxLength": 128}
FIGURES = {
    "first_seen": TIMESTAMP,
    "devices_attempted": INTEGER,
    "devices_installed": INTEGER,
    "devices_failed": INTEGER,
    "devices_rolled_back": INTEGER,
    "install_success_rate": RATE,
    "rollback_rate": RATE,
    "install_duration_seconds": obj({"p50": NULLABLE_NUMBER, "p95": NULLABLE_NUMBER}),
    "adoption_curve": array(
        obj({"hour": TIMESTAMP, "devices_installed_cumulative": INTEGER, "share_of_active_devices": RATE})
    ),
    "time_to_50_percent_seconds": NULLABLE_NUMBER,
    "time_to_90_percent_seconds": NULLABLE_NUMBER,
}
CRASH_FREE = {"crash_free_sessions_rate": RATE, "crash_free_devices_rate": RATE}
RELEASE = {
    "type": "object",
    "properties": {"version": TEXT, **FIGURES, **CRASH_FREE, "groups": array(obj({"key": TEXT, **FIGURES}))},
    "required": ["version", *FIGURES, *CRASH_FREE],
    "additionalProperties": False,
}
INTERVAL = {"type": "array", "items": RATE, "minItems": 2, "maxItems": 2}
SIDE = obj(
    {
        "version": TEXT,
        "first_seen": {"type": ["string", "null"], "format": "date-time"},
        "devices_attempted": INTEGER,
        **{
            key: value
            for rate in compare.RATES
            for key, value in ((rate, RATE), (f"{rate}_interval", INTERVAL))
        },
        "launch_duration_seconds_p50": NULLABLE_NUMBER,
    }
)
COMPARISON = obj(
    {
        "hours": INTEGER,
        "release": SIDE,
        "baseline": SIDE,
        "deltas": obj(
            {rate: obj({"difference": NUMBER, "significant": {"type": "boolean"}}) for rate in compare.RATES}
        ),
    }
)
SEGMENTS = obj(
    {
        "version": TEXT,
        "by": {"enum": sorted(segments.DIMENSIONS)},
        "segments": array(
            obj(
                {
                    "key": TEXT,
                    "devices_attempted": INTEGER,
                    "install_success_rate": RATE,
                    "install_success_rate_interval": INTERVAL,
                    "rollback_rate": RATE,
                    "crash_free_sessions_rate": RATE,
                    "sessions": INTEGER,
                }
            )
        ),
        "worst": {"type": ["string", "null"]},
    }
)
# With confidence=true, the intervals of the rules checked; with baseline, the comparison (null: none to make).
HEALTH_EXTRA = {
    "failure_rate_interval": INTERVAL,
    "rollback_rate_interval": INTERVAL,
    "crash_rate_interval": INTERVAL,
    "comparison": {"anyOf": [COMPARISON, {"type": "null"}]},
}
HEALTH_FIGURES = obj(
    {
        "version": TEXT,
        "verdict": {"enum": ["pass", "fail", "insufficient_data"]},
        "devices_attempted": INTEGER,
        "failure_rate": RATE,
        "rollback_rate": RATE,
        **CRASH_FREE,
        "reasons": array(TEXT),
    }
)
HEALTH = {**HEALTH_FIGURES, "properties": {**HEALTH_FIGURES["properties"], **HEALTH_EXTRA}}
STABILITY = obj(
    {
        "version": TEXT,
        "sessions": INTEGER,
        "crashed_sessions": INTEGER,
        "crash_free_sessions_rate": RATE,
        "devices": INTEGER,
        "crashed_devices": INTEGER,
        "crash_free_devices_rate": RATE,
        "launch_duration_seconds": obj(
            {"avg": NULLABLE_NUMBER, "p50": NULLABLE_NUMBER, "p95": NULLABLE_NUMBER, "samples": INTEGER}
        ),
        "top_crashes": {
            **array(
                obj({"error_code": TEXT, "error_message": TEXT, "sessions": INTEGER, "devices": INTEGER})
            ),
            "maxItems": stability.TOP_CRASHES,
        },
    }
)
SAMPLE = obj({"event_id": TEXT, "device_id": TEXT, "timestamp": TIMESTAMP})
MESSAGE = obj(
    {
        "error_code": TEXT,
        "error_message": TEXT,
        "count": INTEGER,
        "affected_devices": INTEGER,
        "last_seen": TIMESTAMP,
        "samples": {**array(SAMPLE), "maxItems": failure_messages.SAMPLES},
    }
)
APP = obj({"org_id": TEXT, "app_id": TEXT, "events": INTEGER, "devices": INTEGER, "last_seen": TIMESTAMP})
PATH_ERROR = {
    "404": error("No such route: a path parameter that does not form a path of this API, e.g. `..`.")
}
EXPORT_TYPES = {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}


def _limit(most: int, default: int) -> dict[str, Any]:
    return param("limit", {"type": "integer", "minimum": 1, "maximum": most, "default": default})


def _get(summary: str, parameters: list[dict[str, Any]], ok: dict[str, Any], errors: dict[str, Any]) -> Any:
    return {"get": {"summary": summary, "parameters": parameters, "responses": {"200": ok, **errors}}}


def release_paths(common: list[dict[str, Any]], errors: dict[str, Any]) -> dict[str, Any]:
    rate_limit = {"type": "number", "minimum": 0, "maximum": 100}
    version = param("version", STORED_TEXT, required=True, where="path")
    baseline = param("baseline", STORED_TEXT)
    hours = param("hours", {"type": "integer", "minimum": 1, "maximum": compare.MAX_HOURS, "default": 24})
    missing = error(
        "No data for the version in the window, no previous version (`baseline=previous`), or a path parameter "
        "that does not form a path of this API."
    )
    device = param("device_id", STORED_TEXT, required=True, where="path")
    export_ok = {
        "description": "The window's events, streamed; `X-Export-Rows` gives their number.",
        "headers": {"X-Export-Rows": {"schema": {"type": "integer", "minimum": 0}}},
        "content": EXPORT_TYPES,
    }
    return {
        "/analytics/releases": _get(
            "Per-release rates, adoption curve and time to 50/90 %.",
            [*common, param("group_by", {"enum": sorted(releases.GROUP_BY)})],
            json_body("Releases, newest first.", data(array(RELEASE))),
            errors,
        ),
        "/analytics/releases/{version}/health": _get(
            "A verdict to gate a rollout or a CI job on.",
            [
                *common,
                version,
                param("max_failure_rate", {**rate_limit, "default": 5}),
                param("max_rollback_rate", {**rate_limit, "default": 2}),
                param(
                    "min_devices",
                    {"type": "integer", "minimum": 1, "maximum": MAX_MIN_DEVICES, "default": 50},
                ),
                param("max_crash_rate", rate_limit),
                param("confidence", {"type": "boolean", "default": False}),
                baseline,
                param("max_regression", {**rate_limit, "default": 1}),
                hours,
            ],
            json_body("The verdict and why.", data(HEALTH)),
            {**errors, **PATH_ERROR},
        ),
        "/analytics/releases/{version}/compare": _get(
            "The release against a baseline, each over its own first hours, with intervals and significance.",
            [*common, version, baseline, hours],
            json_body("Both sides and the differences of their rates.", data(COMPARISON)),
            {**errors, "404": missing},
        ),
        "/analytics/releases/{version}/segments": _get(
            "The release's figures per device segment, and the worst segment.",
            [
                *common,
                version,
                param("by", {"enum": sorted(segments.DIMENSIONS)}, required=True),
                param(
                    "min_devices",
                    {"type": "integer", "minimum": 1, "maximum": segments.MAX_MIN_DEVICES, "default": 20},
                ),
            ],
            json_body("Segments, most devices first.", data(SEGMENTS)),
            {**errors, **PATH_ERROR},
        ),
        "/analytics/stability": _get(
            "Sessions, crashes and launch durations per running version.",
            [*common, param("version", STORED_TEXT)],
            json_body("Versions, most sessions first.", data(obj({"versions": array(STABILITY)}))),
            errors,
        ),
        "/analytics/failures/messages": _get(
            "The most frequent failure messages, with samples.",
            [
                *common,
                param("error_code", STORED_TEXT),
                param("target_version", STORED_TEXT),
                _limit(failure_messages.MAX_LIMIT, failure_messages.DEFAULT_LIMIT),
            ],
            json_body("Messages, most frequent first.", data(array(MESSAGE))),
            errors,
        ),
        "/analytics/devices/{device_id}/events": _get(
            "One device's events in the window, newest first, as event objects.",
            [*common, device, _limit(device_events.MAX_LIMIT, device_events.DEFAULT_LIMIT)],
            json_body("Events.", data(array({"$ref": "#/components/schemas/OtaEvent"}))),
            {**errors, **PATH_ERROR},
        ),
        "/analytics/apps": _get(
            "The tenant's apps with events in the window.",
            common,
            json_body("Apps by org_id, then app_id.", data(array(APP))),
            errors,
        ),
        "/analytics/export": _get(
            "The window's raw events as NDJSON, CSV or Parquet, streamed.",
            [
                *common,
                param("format", {"enum": ["ndjson", "csv", "parquet"]}, required=True),
                param("event_type", {"enum": [t.value for t in EventType]}),
            ],
            export_ok,
            {**errors, "413": error("More rows than EXPORT_MAX_ROWS; narrow the window, app or event_type.")},
        ),
    }
