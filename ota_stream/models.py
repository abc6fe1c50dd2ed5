"""The OTA event (docs/events.md): validation of the nested and the flat form, and its wire format.

`parse_event` is the one entry point for untrusted input. It lifts flat fields into their groups, validates,
and reports errors with the field path the client actually sent.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from ota_stream.errors import OtaStreamError

MAX_METADATA_KEYS = 32
# What a null key or version reads as in every breakdown (docs/api.md#conventions: it reads `"unknown"`).
UNKNOWN = "unknown"
FUTURE_TOLERANCE = timedelta(hours=24)
TOO_NEW = "must not be more than 24 h in the future"
TOO_OLD = "is older than the retention period"


class EventType(StrEnum):
    UPDATE_STARTED = "update_started"
    UPDATE_DOWNLOADING = "update_downloading"
    UPDATE_DOWNLOADED = "update_downloaded"
    UPDATE_INSTALLING = "update_installing"
    UPDATE_INSTALLED = "update_installed"
    UPDATE_FAILED = "update_failed"
    UPDATE_CANCELLED = "update_cancelled"
    ROLLBACK_STARTED = "rollback_started"
    ROLLBACK_COMPLETED = "rollback_completed"
    # Activity, never an update (docs/events.md): they count in active devices and, through current_version, in a
    # device's current version; no update figure reads them (adoption, failures and releases name their types).
    APP_LAUNCHED = "app_launched"
    UPDATE_CHECKED = "update_checked"
    # The app crashed while current_version ran: activity too, and the crash of its session in the stability
    # figures (storage/queries/stability.py); never an update figure.
    APP_CRASHED = "app_crashed"


# Tenant, org and app ids (docs/events.md#fields), everywhere they are checked.
ID_CHARS, ID_MAX = "[A-Za-z0-9._-]", 64
ID_PATTERN = f"^{ID_CHARS}{{1,{ID_MAX}}}$"
ID_RULE = f"1-{ID_MAX} characters from {ID_CHARS}"
Identifier = Annotated[str, Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(max_length=1024)]
LongText = Annotated[str, Field(max_length=4096)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]
ByteCount = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


class DeviceInfo(_Strict):
    os: ShortText | None = None
    os_version: ShortText | None = None
    model: ShortText | None = None
    manufacturer: ShortText | None = None


class ReleaseInfo(_Strict):
    current_version: ShortText | None = None
    target_version: ShortText | None = None
    release_notes: LongText | None = None
    channel: ShortText | None = None
    rollout_percentage: Percent | None = None


class NetworkInfo(_Strict):
    connection_type: ShortText | None = None
    bandwidth_mbps: NonNegative | None = None


class PerformanceMetrics(_Strict):
    download_speed_mbps: NonNegative | None = None
    download_duration_seconds: NonNegative | None = None
    install_duration_seconds: NonNegative | None = None
    package_size_bytes: ByteCount | None = None
    battery_level: Percent | None = None
    storage_available_mb: NonNegative | None = None
    launch_duration_seconds: NonNegative | None = None  # of an app_launched: to the first interactive screen


class ErrorInfo(_Strict):
    error_code: ShortText | None = None
    error_message: LongText | None = None
    failure_stage: ShortText | None = None


GROUPS: dict[str, type[_Strict]] = {
    "device_info": DeviceInfo,
    "release_info": ReleaseInfo,
    "network_info": NetworkInfo,
    "performance_metrics": PerformanceMetrics,
    "error_info": ErrorInfo,
}
# The flat form: each leaf name at the top level means the same as inside its group.
FLAT_FIELDS: dict[str, str] = {leaf: group for group, model in GROUPS.items() for leaf in model.model_fields}


class OtaEvent(_Strict):
    """One validated event, in its nested form. Timestamps are UTC with millisecond precision."""

    tenant_id: Identifier
    org_id: Identifier
    app_id: Identifier
    device_id: ShortText
    event_type: EventType
    timestamp: datetime
    event_id: ShortText = Field(default_factory=lambda: str(uuid.uuid4()))
    session_id: ShortText | None = None
    device_info: DeviceInfo | None = None
    release_info: ReleaseInfo | None = None
    network_info: NetworkInfo | None = None
    performance_metrics: PerformanceMetrics | None = None
    error_info: ErrorInfo | None = None
    progress: Percent | None = None
    cancellation_reason: Text | None = None
    rollback_reason: Text | None = None
    rollback_duration_seconds: NonNegative | None = None
    metadata: dict[Annotated[str, Field(min_length=1, max_length=128)], Text] | None = Field(
        default=None, max_length=MAX_METADATA_KEYS
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any, info: ValidationInfo) -> datetime:
        parsed = parse_rfc3339(value)
        window = (info.context or {}).get("window")
        if window is not None:
            oldest, newest = window
            if parsed > newest:
                raise ValueError(TOO_NEW)
            if parsed < oldest:
                raise ValueError(TOO_OLD)
        return parsed

    @field_serializer("timestamp")
    def _serialize_timestamp(self, value: datetime) -> str:
        return format_timestamp(value)

    @property
    def app_key(self) -> str:
        """`tenant/org/app`: '/' cannot occur in the ids, so the key is unambiguous."""
        return f"{self.tenant_id}/{self.org_id}/{self.app_id}"

    @property
    def partition_key(self) -> bytes:
        """Kafka key: every event of one app goes to one partition, in order.

        It is the app key serialized as JSON, the way the live tables serialize their keys, so that Faust's
        `table_route` hashes a key to the same partition that holds its events.
        """
        return orjson.dumps(self.app_key)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 date-time with a time zone, as UTC truncated to milliseconds; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 string with a time zone")
    text = value.strip()
    if not 20 <= len(text) <= 40 or text[10] not in "Tt ":
        raise ValueError("must be an RFC 3339 date-time, e.g. 2025-06-03T10:30:00Z")
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        raise ValueError("must be an RFC 3339 date-time, e.g. 2025-06-03T10:30:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone (Z or ±hh:mm)")
    parsed = parsed.astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: 2025-06-03T10:30:00.000Z."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidEvent(OtaStreamError, ValueError):
    """The input is not a valid event; `errors` names each bad field."""

    status = 422  # the HTTP status a route answers it with (a client whose own server says 400 overrides it)

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class TimeWindow:
    """Which timestamps ingest accepts: not older than retention, not over 24 h ahead.

    Without `now`, the bounds of the current millisecond, computed once per millisecond: at thousands of requests a
    second, working them out for each request cost ingest about 8% of its time."""

    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days
        self._millisecond = -1
        self._latest = (datetime.min, datetime.min)

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """(oldest, newest) accepted, on whole milliseconds like the timestamps they bound (so that comparing
        their RFC 3339 texts gives the same answer as comparing them)."""
        if now is not None:
            return self._bounds(now)
        millisecond = time.time_ns() // 1_000_000
        if millisecond != self._millisecond:
            self._latest = self._bounds(datetime.fromtimestamp(millisecond / 1000, UTC))
            self._millisecond = millisecond
        return self._latest

    def _bounds(self, now: datetime) -> tuple[datetime, datetime]:
        oldest, newest = now - timedelta(days=self.retention_days), now + FUTURE_TOLERANCE
        oldest_ms = oldest.replace(microsecond=oldest.microsecond // 1000 * 1000)
        if oldest_ms < oldest:
            oldest_ms += timedelta(milliseconds=1)
        return oldest_ms, newest.replace(microsecond=newest.microsecond // 1000 * 1000)


def parse_event(data: Any, window: tuple[datetime, datetime] | None = None) -> OtaEvent:
    """Validate one decoded JSON value. `window` bounds the timestamp; None skips that check."""
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("$", "an event must be a JSON object")])
    nested, lifted, conflicts = _lift_flat_fields(data)
    if conflicts:
        raise InvalidEvent(conflicts)
    try:
        return OtaEvent.model_validate(nested, context={"window": window})
    except ValidationError as exc:
        raise InvalidEvent([_field_error(item, lifted) for item in exc.errors()]) from None


def _lift_flat_fields(data: dict[str, Any]) -> tuple[dict[str, Any], set[str], list[FieldError]]:
    flat = [key for key in data if key in FLAT_FIELDS]
    if not flat:
        return data, set(), []
    nested = {key: value for key, value in data.items() if key not in FLAT_FIELDS}
    conflicts: list[FieldError] = []
    for key in flat:
        group = FLAT_FIELDS[key]
        target = nested.get(group)
        if target is None:
            target = nested[group] = {}
        elif not isinstance(target, dict):
            continue  # the group itself is malformed; validation reports it
        else:
            target = nested[group] = dict(target)
        if key in target and target[key] != data[key]:
            conflicts.append(FieldError(key, f"conflicts with {group}.{key}; send one of them"))
        target.setdefault(key, data[key])
    return nested, set(flat), conflicts


def _field_error(item: Any, lifted: set[str]) -> FieldError:
    loc = [str(part) for part in item["loc"]]
    if len(loc) >= 2 and loc[0] in GROUPS and loc[1] in lifted:
        loc = loc[1:]  # report the flat name the client sent
    message = str(item["msg"])
    if item["type"] == "extra_forbidden":
        message = "unknown field"
    elif item["type"] == "missing":
        message = "is required"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return FieldError(".".join(loc) or "$", message)
