"""Runs of envelopes joined into one Faust message (kafka/coalesce.py): which records are joined, that every event
keeps the position it was written at. tests/test_offsets.py checks that acking joined messages lets Faust commit
past all of them, and tests/test_envelopes.py shows the same on a real worker reading a backlog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from ota_stream.agents.decode import Message as Readable
from ota_stream.agents.decode import decode
from ota_stream.kafka import envelope
from ota_stream.kafka.coalesce import JoinedRecord, join_envelopes, mark_parts, parts_of
from ota_stream.models import TimeWindow, format_timestamp
from tests.support.faust_app import consumer_app
from tests.support.rows import envelopes, positions

SOURCE = TP("ota-events", 2)
NOW = datetime.now(UTC)
WINDOW = TimeWindow(365).bounds(NOW)


def record(
    offset: int, value: bytes, key: bytes | None = None, packed: bool = True
) -> ConsumerRecord[Any, Any]:
    headers = envelope.HEADERS if packed else []
    return ConsumerRecord(
        SOURCE.topic, SOURCE.partition, offset, 1000 + offset, 0, key, value, None, -1, len(value), headers
    )


def lines(*names: str) -> bytes:
    return envelope.pack([name.encode() for name in names])


def test_consecutive_envelopes_are_joined_and_anything_else_breaks_the_run() -> None:
    records = [
        record(10, lines("a", "b")),
        record(11, lines("c")),
        record(12, b'{"single": 1}', packed=False),  # another producer's event: a message of its own
        record(13, lines("d")),
        record(14, lines("e"), key=b"k"),  # an envelope with a key is not ours: left alone
        record(15, lines("f")),
        record(16, lines("g", "h")),
        record(17, lines("i")),
    ]
    joined = join_envelopes(records)
    assert [(r.offset, r.value) for r in joined] == [
        (11, b"a\nb\nc"),
        (12, b'{"single": 1}'),
        (13, b"d"),
        (14, b"e"),
        (17, b"f\ng\nh\ni"),
    ]
    assert [getattr(r, "parts", None) for r in joined] == [((10, 2), (11, 1)), None, None, None,
                                                           ((15, 1), (16, 2), (17, 1))]  # fmt: skip
    first = joined[0]
    assert isinstance(first, JoinedRecord)
    assert first.headers == envelope.HEADERS and first.key is None
    assert first.timestamp == 1011 and first.serialized_value_size == len(b"a\nb") + len(b"c")
    assert joined[1] is records[2] and joined[2] is records[3]  # a run of one is passed on as it came


def test_a_joined_record_holds_at_most_max_lines() -> None:
    records = [record(offset, lines(*["x"] * 3)) for offset in range(5)]
    joined = join_envelopes(records, max_lines=7)
    assert [getattr(r, "parts", None) for r in joined] == [((0, 3), (1, 3)), ((2, 3), (3, 3)), None]
    assert [envelope.line_count(r.value) for r in joined] == [6, 6, 3]


@pytest.fixture
def app() -> Iterator[faust.App]:
    yield consumer_app("joined-unit", SOURCE.topic)


def test_faust_messages_of_joined_records_carry_their_parts(app: faust.App) -> None:
    joined, single = join_envelopes(
        [record(3, lines("a")), record(4, lines("b")), record(5, b"{}", packed=False)]
    )
    consumer = app.consumer
    message = consumer._to_message(SOURCE, joined)  # type: ignore[attr-defined]
    assert (message.offset, message.value, parts_of(message)) == (4, b"a\nb", ((3, 1), (4, 1)))
    assert parts_of(consumer._to_message(SOURCE, single)) is None  # type: ignore[attr-defined]
    assert parts_of(mark_parts(object(), single)) is None


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "t", "org_id": "o", "app_id": "a", "device_id": f"d{i}", "event_type": "update_installed",
        "timestamp": format_timestamp(NOW), "event_id": f"e{i}", **extra,
    }  # fmt: skip


def joined_message(messages: list[Readable]) -> Readable:
    """`messages` as the sink receives them once joined: one message, each line with its envelope's position."""
    records = [record(m.offset, m.value) for m in messages]
    (joined,) = join_envelopes(records)
    return Readable(SOURCE.partition, joined.offset, None, joined.value, joined.headers, joined.parts)


def test_every_line_of_a_joined_message_keeps_its_own_position() -> None:
    written = envelopes([event(i) for i in range(5)], partition=SOURCE.partition, offset=40, per_message=2)
    batch = decode([joined_message(written)], WINDOW)
    assert not batch.poison
    assert batch.rows.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]
    assert positions(batch.rows) == positions(decode(written, WINDOW).rows)
    assert positions(batch.rows) == [(2, 40, 0), (2, 40, 1), (2, 41, 0), (2, 41, 1), (2, 42, 0)]


def test_a_bad_line_in_a_joined_message_is_named_by_its_own_envelope() -> None:
    good = envelopes([event(1), event(2)], partition=SOURCE.partition, offset=7)
    line = envelopes([event(3)])[0].value
    bad = Readable(SOURCE.partition, 8, None, envelope.pack([line, b"{nope"]), envelope.HEADERS)
    batch = decode([joined_message([*good, bad])], WINDOW)
    assert batch.rows.column("event_id").to_pylist() == ["e1", "e2", "e3"]
    assert positions(batch.rows) == [(2, 7, 0), (2, 7, 1), (2, 8, 0)]
    assert [(p.position, p.kind, p.value) for p in batch.poison] == [((2, 8, 1), "invalid_json", b"{nope")]
