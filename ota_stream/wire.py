"""The event as ingest reads it straight from bytes, and the line it becomes in Kafka.

models.py defines the event with pydantic and says what is wrong with a bad one, field by field. Reading every
valid event through it is most of what POST /events/batch costs, so this module derives msgspec structs from that
same model (one definition: `_derive` translates each field's type and constraints, and fails on any it does not
know) and decodes requests with them in one C pass. Whatever they do not accept (the flat form, any invalid
input) goes to `models.parse_event`, which accepts it or names each bad field exactly as before; tests check that
the two agree on every input of the bad-input table and on generated ones.

The line is the event's canonical JSON: the nested form, `timestamp` in UTC with milliseconds, `event_id`
always present, absent fields left out, and `metadata` as `[[key, value], ...]` (a map that the sink's Arrow reader
can take). The sink reads a batch of lines into columns in one pass (agents/decode.py).
"""

from __future__ import annotations

import functools
import operator
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Annotated, Any, NamedTuple, Union

import annotated_types
import msgspec
import orjson
from pydantic import AllowInfNan, BaseModel, Strict
from pydantic.fields import FieldInfo

from ota_stream.models import (
    TOO_NEW,
    TOO_OLD,
    FieldError,
    InvalidEvent,
    OtaEvent,
    format_timestamp,
    parse_rfc3339,
)

STR_MAX_LENGTH = 4096  # OtaEvent's str_max_length, for strings without a limit of their own
FLOAT_MAX = (
    1.7976931348623157e308  # `allow_inf_nan=False`: msgspec reads no NaN, and this keeps out infinities
)


class Accepted(NamedTuple):
    """A valid event, ready to publish: its partition key, its line, and what the 202 answer names."""

    key: bytes
    line: bytes
    event_id: str
    timestamp: str


def _constraints(metadata: Sequence[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            found["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            found["max_length"] = item.max_length
        elif isinstance(item, annotated_types.Ge):
            found["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            found["le"] = item.le
        elif getattr(item, "pattern", None):
            # Python's `$` also matches before a final newline; pydantic's (Rust) regex does not.
            found["pattern"] = item.pattern.removesuffix("$") + r"\Z"
        elif isinstance(item, Strict | AllowInfNan):
            continue  # msgspec reads JSON strictly already; infinities are kept out by FLOAT_MAX
        else:
            raise TypeError(f"no msgspec equivalent for the constraint {item!r}")
    return found


def _translate(annotation: Any, metadata: Sequence[Any] = ()) -> Any:
    """A msgspec type equivalent to a pydantic annotation with its constraints."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extra = typing.get_args(annotation)
        inner: list[Any] = []
        for item in extra:
            inner.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        return _translate(base, [*metadata, *inner])
    if origin in (Union, types.UnionType):
        args = typing.get_args(annotation)
        translated = [_translate(arg, metadata) if arg is not type(None) else None for arg in args]
        return functools.reduce(operator.or_, translated[1:], translated[0])
    if origin is dict:
        key, value = typing.get_args(annotation)
        return _meta(dict[_translate(key), _translate(value)], metadata)  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return struct_of(annotation)
    if annotation is str:
        constraints = _constraints(metadata)
        constraints.setdefault("max_length", STR_MAX_LENGTH)
        return Annotated[str, msgspec.Meta(**constraints)]
    if annotation is float:
        constraints = {"ge": -FLOAT_MAX, "le": FLOAT_MAX, **_constraints(metadata)}
        return Annotated[float, msgspec.Meta(**constraints)]
    if annotation is int or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return _meta(annotation, metadata)
    if annotation is datetime:
        return str  # parsed by models.parse_rfc3339, as the model's own validator does
    raise TypeError(f"no msgspec equivalent for {annotation!r}")


def _meta(annotation: Any, metadata: Sequence[Any]) -> Any:
    constraints = _constraints(metadata)
    return Annotated[annotation, msgspec.Meta(**constraints)] if constraints else annotation


@cache
def struct_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The msgspec struct of a pydantic model: same fields, types and limits; unknown fields refused."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        kind = _translate(info.annotation, info.metadata)
        if info.is_required():
            fields.append((name, kind))
        else:  # a default factory (event_id) is applied after decoding, in `accept`
            fields.append((name, kind | None if info.default is None else kind, None))
    return msgspec.defstruct(
        f"{model.__name__}Wire", fields, forbid_unknown_fields=True, omit_defaults=True, kw_only=True
    )


EventWire = struct_of(OtaEvent)
REQUIRED_FIELDS = frozenset(name for name, info in OtaEvent.model_fields.items() if info.is_required())
_decode_one = msgspec.json.Decoder(EventWire).decode
_decode_many = msgspec.json.Decoder(list[EventWire]).decode  # type: ignore[valid-type]
_encode = msgspec.json.Encoder().encode


def decode_one(body: bytes) -> Any | None:
    """The event, or None when the fast path does not take it (then models.parse_event decides)."""
    try:
        return _decode_one(body)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None


def decode_many(body: bytes) -> list[Any] | None:
    """Every event of a JSON array, or None when any of them is not for the fast path."""
    try:
        return _decode_many(body)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return None


def convert(data: Any) -> Any | None:
    """An already decoded JSON value as an event, or None (as `decode_one`)."""
    try:
        return msgspec.convert(data, EventWire)
    except msgspec.ValidationError:
        return None


@functools.lru_cache(maxsize=8)
def _window_text(window: tuple[datetime, datetime]) -> tuple[str, str]:
    return format_timestamp(window[0]), format_timestamp(window[1])


def _canonical_timestamp(text: str) -> str:
    """The timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ`; clients that send it so (ours do) skip the conversion.
    ValueError says what is wrong, in models.parse_rfc3339's words."""
    if len(text) == 24 and text[23] == "Z" and text[19] == "." and text[10] == "T" and text[:4] >= "1000":
        try:
            datetime.fromisoformat(text[:23])  # a real date and time
            return text
        except ValueError:
            pass
    return format_timestamp(parse_rfc3339(text))


Pseudonymize = Callable[[str, str], str]  # (tenant_id, device_id) -> the id stored instead (auth/privacy.py)


def accept(event: Any, window: tuple[datetime, datetime], device_ids: Pseudonymize | None = None) -> Accepted:
    """The checks that the structs cannot make (the timestamp), then the line; InvalidEvent names the field.

    Canonical timestamps in UTC compare as text in the order of time, and the window's ends are on whole
    milliseconds (models.TimeWindow), so the window check is two string comparisons."""
    try:
        timestamp = _canonical_timestamp(event.timestamp)
    except ValueError as exc:
        raise InvalidEvent([FieldError("timestamp", str(exc))]) from None
    oldest, newest = _window_text(window)
    if timestamp > newest:
        raise InvalidEvent([FieldError("timestamp", TOO_NEW)])
    if timestamp < oldest:
        raise InvalidEvent([FieldError("timestamp", TOO_OLD)])
    event.timestamp = timestamp
    if device_ids is not None:
        event.device_id = device_ids(event.tenant_id, event.device_id)
    if event.event_id is None:
        event.event_id = str(uuid.uuid4())
    if event.metadata:
        event.metadata = list(event.metadata.items())
    key = orjson.dumps(f"{event.tenant_id}/{event.org_id}/{event.app_id}")
    return Accepted(key, _encode(event), event.event_id, event.timestamp)


def accept_model(event: OtaEvent, device_ids: Pseudonymize | None = None) -> Accepted:
    """The same line for an event that pydantic validated (the flat form, or a slow path)."""
    data = event.model_dump(mode="json", exclude_none=True)
    if device_ids is not None:
        data["device_id"] = device_ids(event.tenant_id, event.device_id)
    if event.metadata:
        data["metadata"] = list(event.metadata.items())
    timestamp = format_timestamp(event.timestamp)
    data["timestamp"] = timestamp
    return Accepted(event.partition_key, orjson.dumps(data), event.event_id, timestamp)
