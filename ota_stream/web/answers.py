"""The schemas of the answers (JSON schema, as the OpenAPI document shows them): their building blocks, the
figures of releases, compare, segments, stability, drill-down and apps, and the admin records (keys, alert rules,
rollout guards and their decisions)."""

from __future__ import annotations

from typing import Any

from ota_stream.alerts.rules import Metric
from ota_stream.auth.keys import KeyScope
from ota_stream.guards.rules import GUARD_ID_PATTERN, Action
from ota_stream.models import ID_PATTERN
from ota_stream.storage.queries import compare, failure_messages, segments, stability

Schema = dict[str, Any]
ERROR = {"$ref": "#/components/schemas/Error"}
EVENT = {"$ref": "#/components/schemas/OtaEvent"}
INTEGER = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number"}
RATE = {"type": "number", "minimum": 0, "maximum": 100}
TEXT = {"type": "string"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
TIMESTAMP = {"type": "string", "format": "date-time"}
ID = {"type": "string", "pattern": ID_PATTERN}
NULLABLE_TEXT = {"type": ["string", "null"]}
LOOSE = {"type": "object", "additionalProperties": True}


def data(schema: Schema) -> Schema:
    """`{"data": schema}`, the shape of every analytics and admin answer."""
    return {"type": "object", "properties": {"data": schema}, "required": ["data"]}


def obj(properties: Schema) -> Schema:
    """An object with exactly these properties, all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


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
EXPORT_TYPES = {
    "application/x-ndjson": {"type": "string"},
    "text/csv": {"type": "string"},
    "application/vnd.apache.parquet": {"type": "string", "format": "binary"},
}
ACCEPTED = {
    "type": "object",
    "required": ["status", "event_id", "timestamp"],
    "properties": {"status": {"const": "accepted"}, "event_id": TEXT, "timestamp": TEXT},
}
BATCH_RESULT = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {
        "accepted": INTEGER,
        "rejected": array(
            {
                "type": "object",
                "required": ["index", "code", "errors"],
                "properties": {
                    "index": INTEGER,
                    "code": {"enum": ["validation_failed", "forbidden"]},
                    "errors": {"type": "array"},
                },
            }
        ),
    },
}
KEY: Schema = {
    "type": "object",
    "required": ["key_id", "tenant_id", "scopes", "created_at", "revoked_at"],
    "properties": {
        "key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "tenant_id": TEXT,
        "scopes": array({"enum": [str(scope) for scope in KeyScope]}),
        "org_id": {"type": ["string", "null"]},
        "app_id": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "created_at": TEXT,
        "revoked_at": {"type": ["string", "null"], "description": "null while the key is active"},
    },
}
RULE: Schema = {
    "type": "object",
    "required": ["rule_id", "tenant_id", "metric", "threshold", "window_minutes", "min_events", "webhook_url",
                 "org_id", "app_id", "created_at"],
    "properties": {
        "rule_id": TEXT,
        "tenant_id": TEXT,
        "org_id": {"type": ["string", "null"]},
        "app_id": {"type": ["string", "null"]},
        "metric": {"enum": [str(metric) for metric in Metric]},
        "threshold": NUMBER,
        "window_minutes": {"type": "integer"},
        "min_events": {"type": "integer"},
        "webhook_url": TEXT,
        "created_at": TEXT,
    },
}  # fmt: skip
ACTION = {"enum": [str(action) for action in Action]}
GUARD = obj(
    {
        "guard_id": {"type": "string", "pattern": GUARD_ID_PATTERN},
        "tenant_id": ID,
        "org_id": ID,
        "app_id": ID,
        "channel": NULLABLE_TEXT,
        "rules": {"type": "object", "description": "the health gate's parameters, defaults filled in"},
        "action": ACTION,
        "webhook_url": TEXT,
        "watch_hours": INTEGER,
        "created_at": TEXT,
    }
)
# The body each decision sends (docs/decisions.md#the-decision), and how its delivery went.
DECISION = obj(
    {
        "decision_id": TEXT,
        "guard_id": TEXT,
        "decision": ACTION,
        "tenant_id": TEXT,
        "org_id": TEXT,
        "app_id": TEXT,
        "channel": NULLABLE_TEXT,
        "version": TEXT,
        "health": HEALTH,
        "decided_at": TIMESTAMP,
        "delivery": {"enum": ["pending", "delivered", "given_up"]},
        "delivered_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
    }
)
ERROR_SCHEMA = {  # components/schemas/Error: the one error shape (web/errors.py)
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": TEXT,
                "message": TEXT,
                "details": array(
                    {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": TEXT, "message": TEXT},
                    }
                ),
            },
        }
    },
}


def with_property(schema: Schema, name: str, value: Schema) -> Schema:
    """`schema` with one more property, always present: a created key's secret, a created rule's or guard's."""
    return {
        **schema,
        "properties": {**schema["properties"], name: value},
        "required": [*schema.get("required", []), name],
    }
