"""From Kafka messages to one Arrow table of rows, with what cannot be read set aside as poison.

Envelopes (kafka/envelope.py) were validated by ingest: their lines (wire.py) are read in one C++ pass (pyarrow's
JSON reader, typed by `LINE_SCHEMA`) and checked only for structure (required fields present, a known event type,
metadata as pairs), which is what a line written by another producer could get wrong. A message without the
envelope header is one event in the public form, written by another producer: it is validated in full, as
ingest would, and joins the batch as a line. Only when the batch fails as a whole is it read message by message,
and a failing message line by line, so that one bad line costs the batch a slower path, never the good lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ota_stream import wire
from ota_stream.errors import OtaStreamError
from ota_stream.kafka import envelope
from ota_stream.kafka.coalesce import Part
from ota_stream.models import EventType, InvalidEvent, parse_event
from ota_stream.storage.events_table import LINE_SCHEMA, POSITION, POSITION_TYPES, REQUIRED, to_columns

_PARSE = pa_json.ParseOptions(explicit_schema=LINE_SCHEMA, unexpected_field_behavior="error")
_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 26)
_EVENT_TYPES = pa.array([t.value for t in EventType])


@dataclass(frozen=True)
class Message:
    """What decoding needs of a Kafka message."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] | None = None
    parts: tuple[Part, ...] | None = None  # of a run of envelopes joined into one message (kafka/coalesce.py)


@dataclass(frozen=True)
class Poison:
    """A message, or one line of an envelope, that is not an event; it goes to the dead-letter topic."""

    key: bytes | None
    value: bytes
    kind: str  # a DEAD_LETTER_REASONS label: invalid_json, invalid_event, clickhouse_rejected
    reason: str
    partition: int
    offset: int
    index: int

    @property
    def position(self) -> tuple[int, int, int]:
        return self.partition, self.offset, self.index


@dataclass(frozen=True)
class Batch:
    rows: pa.Table  # the raw table's columns (storage/events_table.py), positions included
    poison: list[Poison]


class Unreadable(OtaStreamError, ValueError):
    """Lines that are not rows; the message says why."""


def decode(messages: Sequence[Message], window: tuple[datetime, datetime]) -> Batch:
    """Rows of every event in `messages`, in message order; `window` bounds the timestamps of foreign events."""
    parts: list[tuple[Message, bytes, int]] = []  # (message, lines, how many)
    poison: list[Poison] = []
    for message in messages:
        if envelope.is_envelope(message.headers):
            parts.append((message, message.value, envelope.line_count(message.value)))
            continue
        try:
            line = _foreign_event(message.value, window)
        except Unreadable as exc:
            poison.append(_poison(message, message.value, 0, exc))
        else:
            parts.append((message, line, 1))
    try:
        tables = [_read(b"\n".join(lines for _, lines, _ in parts), sum(n for *_, n in parts))]
        positions = [_positions(parts)]
    except Unreadable:
        tables, positions = [], []
        for message, lines, count in [piece for part in parts for piece in _pieces(*part)]:
            table, index, bad = _read_message(message, lines, count)
            poison.extend(bad)
            tables.append(table)
            positions.append(_positions([(message, b"", len(index))], index))
    lines = pa.concat_tables(tables) if tables else LINE_SCHEMA.empty_table()
    return Batch(_with_positions(to_columns(lines), positions), poison)


def _foreign_event(value: bytes, window: tuple[datetime, datetime]) -> bytes:
    """A message another producer wrote: validated as ingest validates a request body."""
    try:
        event = wire.decode_one(value)
        if event is not None:
            return wire.accept(event, window).line
        data: Any = orjson.loads(value)
        return wire.accept_model(parse_event(data, window)).line
    except orjson.JSONDecodeError as exc:
        raise Unreadable(str(exc)) from None
    except InvalidEvent as exc:
        raise Unreadable("; ".join(f"{e.field}: {e.message}" for e in exc.errors[:10])) from None


def _read(lines: bytes, expected: int) -> pa.Table:
    """Rows from NDJSON lines, or Unreadable."""
    if not lines.strip():
        raise Unreadable("an empty line")
    try:
        table = pa_json.read_json(io.BytesIO(lines), read_options=_READ, parse_options=_PARSE)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise Unreadable(str(exc)) from None
    if table.num_rows != expected:
        raise Unreadable(f"{expected} lines held {table.num_rows} rows")
    problem = _structure(table)
    if problem:
        raise Unreadable(problem)
    return table


def _structure(table: pa.Table) -> str | None:
    """What a row line written by another producer could get wrong and ClickHouse or the counts would not catch."""
    for name in REQUIRED:
        if table.column(name).null_count:
            return f"{name}: is required"
    for name in ("tenant_id", "org_id", "app_id", "device_id", "event_id"):
        if pc.any(pc.equal(pc.utf8_length(table.column(name)), 0)).as_py():
            return f"{name}: must not be empty"
    if not pc.all(pc.is_in(table.column("event_type"), value_set=_EVENT_TYPES)).as_py():
        return "event_type: not one of the event types"
    pairs = table.column("metadata").combine_chunks().flatten()
    if len(pairs) and (
        pairs.null_count
        or not pc.all(pc.equal(pc.list_value_length(pairs), 2)).as_py()
        or pairs.flatten().null_count
    ):
        return "metadata: must be [[key, value], ...] of strings"
    return None


def _pieces(message: Message, lines: bytes, count: int) -> list[tuple[Message, bytes, int]]:
    """A joined message as the envelopes it joins, so that each bad line is named by its own position."""
    if not message.parts:
        return [(message, lines, count)]
    split = lines.split(b"\n")
    pieces, start = [], 0
    for offset, n in message.parts:
        value = envelope.pack(split[start : start + n])
        pieces.append((replace(message, offset=offset, value=value, parts=None), value, n))
        start += n
    return pieces


def _read_message(message: Message, lines: bytes, count: int) -> tuple[pa.Table, list[int], list[Poison]]:
    """The rows of one message, reading line by line only when the message fails as a whole."""
    try:
        return _read(lines, count), list(range(count)), []
    except Unreadable as exc:
        if count == 1:
            return LINE_SCHEMA.empty_table(), [], [_poison(message, lines, 0, exc)]
    tables, index, poison = [], [], []
    for i, line in enumerate(lines.split(b"\n")):
        try:
            tables.append(_read(line, 1))
            index.append(i)
        except Unreadable as exc:
            poison.append(_poison(message, line, i, exc))
    return (pa.concat_tables(tables) if tables else LINE_SCHEMA.empty_table()), index, poison


def _poison(message: Message, value: bytes, index: int, error: Unreadable) -> Poison:
    try:
        orjson.loads(value)
        kind = "invalid_event"
    except orjson.JSONDecodeError:
        kind = "invalid_json"
    return Poison(message.key, value, kind, f"{kind}: {error}", message.partition, message.offset, index)


def _positions(parts: Sequence[tuple[Message, bytes, int]], index: list[int] | None = None) -> pa.Table:
    """(partition, offset, index) of each line; a joined message's lines each at their own envelope's offset."""
    spans = [
        (m.partition, offset, n) for m, _, count in parts for offset, n in (m.parts or [(m.offset, count)])
    ]
    partitions = pa.array([partition for partition, _, _ in spans], pa.uint32())
    offsets = pa.array([offset for _, offset, _ in spans], pa.uint64())
    repeat = pa.array([i for i, (*_, n) in enumerate(spans) for _ in range(n)], pa.int64())
    if index is None:
        index = [i for *_, n in spans for i in range(n)]
    return pa.table(
        [partitions.take(repeat), offsets.take(repeat), pa.array(index, pa.uint32())], names=list(POSITION)
    )


def _with_positions(rows: pa.Table, positions: list[pa.Table]) -> pa.Table:
    where = pa.concat_tables(positions) if positions else pa.table({name: [] for name in POSITION})
    for name in POSITION:
        rows = rows.append_column(name, where.column(name).cast(POSITION_TYPES[name]))
    return rows
