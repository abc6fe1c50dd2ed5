"""What every client format shares on its way to the event model (docs/clients.md): a draft event that remembers which
client field each of its fields came from, the clients' loose values (empty strings, epoch milliseconds, numbers
sent as text), and `metadata` for everything without an equivalent.

A mapper only translates: validation stays with the model (ota_stream/web/ingest.py `Ingest.accept`), whose
errors are then named by the client's own field (`Draft.client_field`).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ota_stream.models import GROUPS, MAX_METADATA_KEYS, FieldError, InvalidEvent, format_timestamp

METADATA_KEY_LIMIT = 128
METADATA_VALUE_LIMIT = 1024  # models.Text
SOURCE_TYPE = "source_type"  # the client's own event type or action, when ours is only the nearest
DROPPED = "metadata_dropped"  # names of client fields that did not fit in the 32 metadata keys
# Event ids derived from a client payload (formats that carry no id of their own but a precise timestamp).
ID_NAMESPACE = uuid.UUID("8f0a5a8e-4a49-4d36-9d0e-5f0d7c3c1a12")
# Epoch milliseconds from 2001-09-09 on; smaller numbers are read as epoch seconds.
EPOCH_MS_FLOOR = 1_000_000_000_000
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_LEAF_GROUP = {leaf: group for group, model in GROUPS.items() for leaf in model.model_fields}


def snake(name: str) -> str:
    """`currentJsVersion` -> `current_js_version`; snake_case names are unchanged."""
    return _CAMEL.sub(r"_\1", name).lower()


def absent(value: Any) -> bool:
    """Clients send "" (Airborne's Android SDK) or null where a value is absent."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_text(value: Any) -> str:
    """A metadata value: strings as they are, anything else as compact JSON, cut to the metadata limit."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:METADATA_VALUE_LIMIT]


@dataclass
class Draft:
    """One event being built from a client payload: event fields (docs/events.md), metadata, and where each came
    from."""

    received: datetime
    event: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # our field path -> the client's field name
    _overflow: list[str] = field(default_factory=list)

    def put(self, name: str, value: Any, source: str) -> None:
        """Set an event field (docs/events.md#fields) (a leaf name goes into its group) unless the client left it
        absent."""
        if absent(value):
            return
        group = _LEAF_GROUP.get(name)
        if group is None:
            self.event[name] = value
            self.origin[name] = source
        else:
            self.event.setdefault(group, {})[name] = value
            self.origin[f"{group}.{name}"] = source

    def number(self, name: str, value: Any, source: str, scale: float = 1.0, integer: bool = False) -> None:
        """A numeric field; numbers sent as text are read, anything else is left for validation to refuse."""
        if absent(value):
            return
        number = _number(value)
        if number is None:
            self.put(name, value, source)  # not a number: the model names the field
            return
        scaled = number * scale
        if integer and float(scaled).is_integer():
            self.put(name, int(scaled), source)
        else:
            self.put(name, float(scaled), source)

    def keep(self, key: str, value: Any) -> None:
        """A client field without an equivalent, into metadata as text (absent values are not kept)."""
        if absent(value) or (isinstance(value, dict | list) and not value):
            return
        name = key[:METADATA_KEY_LIMIT]
        if name in self.metadata:
            return
        if len(self.metadata) >= MAX_METADATA_KEYS - 1:  # one key is kept for the names that did not fit
            self._overflow.append(name)
            return
        self.metadata[name] = as_text(value)

    def timestamp(self, value: Any, source: str) -> None:
        """RFC 3339 text as it is (validation reads it); epoch milliseconds (or seconds) as numbers or digits;
        absent means the time of receipt."""
        if absent(value):
            self.event["timestamp"] = format_timestamp(self.received)
            return
        number = _number(value) if not isinstance(value, str) or _digits(value) else None
        if number is not None:
            seconds = number / 1000 if abs(number) >= EPOCH_MS_FLOOR else number
            try:
                value = format_timestamp(datetime.fromtimestamp(seconds, UTC))
            except (OverflowError, OSError, ValueError):
                raise InvalidEvent([FieldError(source, "is not a valid epoch time")]) from None
        self.event["timestamp"] = value
        self.origin["timestamp"] = source

    def derive_id(self, *parts: Any) -> None:
        """An event id from the payload itself, for formats that send none: a client's retry of the same
        report carries the same parts, so it counts once (docs/events.md#ids-and-deduplication)."""
        if "event_id" not in self.event:
            self.event["event_id"] = str(uuid.uuid5(ID_NAMESPACE, orjson.dumps(parts).decode()))

    def build(self) -> dict[str, Any]:
        """The event object (docs/events.md), ready for `Ingest.accept`."""
        event = dict(self.event)
        metadata = dict(self.metadata)
        if self._overflow:
            metadata[DROPPED] = as_text(",".join(self._overflow))
        if metadata:
            event["metadata"] = metadata
        return event

    def client_field(self, error: FieldError) -> FieldError:
        """A validation error named by the field the client sent."""
        return FieldError(self.origin.get(error.field, error.field), error.message)


def _digits(text: str) -> bool:
    return bool(re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", text))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _digits(value):
        return float(value)
    return None


def require_object(data: Any, where: str = "$") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError(where, "must be a JSON object")])
    return data


def require(data: dict[str, Any], *names: str, sent: dict[str, str] | None = None) -> None:
    """The client's own required fields, named as the client sent them (`sent`: our name -> theirs)."""
    missing = [FieldError((sent or {}).get(n, n), "is required") for n in names if absent(data.get(n))]
    if missing:
        raise InvalidEvent(missing)


def choice(
    data: dict[str, Any],
    name: str,
    allowed: frozenset[str] | dict[str, Any],
    sent: dict[str, str] | None = None,
) -> str:
    value = data.get(name)
    if not isinstance(value, str) or value not in allowed:
        shown = ", ".join(sorted(allowed)[:20])
        raise InvalidEvent([FieldError((sent or {}).get(name, name), f"must be one of {shown}")])
    return value
