"""Decoding Kafka messages into rows: envelopes in one pass, foreign single events validated, poison set aside
with its exact position, and good lines never lost to a bad neighbour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ota_stream.agents.decode import Message, decode
from ota_stream.kafka import envelope
from ota_stream.models import TimeWindow, format_timestamp
from tests.support.rows import envelopes, positions

NOW = datetime.now(UTC)
WINDOW = TimeWindow(365).bounds(NOW)
STAMP = format_timestamp(NOW)


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "t", "org_id": "o", "app_id": "a", "device_id": f"d{i}", "event_type": "update_installed",
        "timestamp": (NOW - timedelta(minutes=i)).isoformat(), "event_id": f"e{i}",
        "release_info": {"target_version": "2.0"}, "metadata": {"k": str(i)}, **extra,
    }  # fmt: skip


def test_envelopes_become_rows_with_positions_and_metadata() -> None:
    batch = decode(envelopes([event(i) for i in range(5)], partition=3, offset=10, per_message=2), WINDOW)
    assert not batch.poison
    assert batch.rows.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]
    assert positions(batch.rows) == [(3, 10, 0), (3, 10, 1), (3, 11, 0), (3, 11, 1), (3, 12, 0)]
    assert batch.rows.column("metadata").to_pylist()[1] == [("k", "1")]
    assert batch.rows.column("target_version").to_pylist() == ["2.0"] * 5


def test_foreign_single_events_are_validated_and_mixed_with_envelopes() -> None:
    flat = {key: value for key, value in event(9).items() if key != "release_info"}
    good = Message(1, 5, b"k", orjson.dumps({**flat, "target_version": "3.0", "os": "iOS"}))
    flat_invalid = Message(1, 6, b"k", orjson.dumps(event(8, battery_level=200)))
    not_json = Message(1, 7, b"k", b"{nope")
    too_old = Message(1, 8, b"k", orjson.dumps(event(7, timestamp="2001-01-01T00:00:00Z")))
    packed = envelopes([event(1), event(2)], partition=1, offset=9)
    batch = decode([good, flat_invalid, not_json, too_old, *packed], WINDOW)
    assert batch.rows.column("event_id").to_pylist() == ["e9", "e1", "e2"]
    assert batch.rows.column("device_os").to_pylist() == ["iOS", None, None]
    assert batch.rows.column("target_version").to_pylist() == ["3.0", "2.0", "2.0"]
    assert positions(batch.rows) == [(1, 5, 0), (1, 9, 0), (1, 9, 1)]
    kinds = [(p.position, p.kind) for p in batch.poison]
    assert kinds == [((1, 6, 0), "invalid_event"), ((1, 7, 0), "invalid_json"), ((1, 8, 0), "invalid_event")]
    assert "battery_level" in batch.poison[0].reason and "retention" in batch.poison[2].reason


def line(**changes: Any) -> bytes:
    base = {"event_id": "a", "tenant_id": "t", "org_id": "o", "app_id": "a", "device_id": "d",
            "event_type": "update_started", "timestamp": STAMP}  # fmt: skip
    return orjson.dumps({key: value for key, value in {**base, **changes}.items() if value is not None})


def test_a_bad_line_inside_an_envelope_costs_only_that_line() -> None:
    lines = envelope.pack(
        [
            line(),
            b"{not json",
            line(event_id="b", event_type="no_such_type"),
            line(event_id="c", metadata=[["x"]]),
            line(event_id="d", tenant_id=None),
            line(event_id="e", extra=1),
        ]
    )
    others = envelopes([event(1), event(2)], partition=0, offset=4)
    batch = decode([*others[:1], Message(0, 5, None, lines, envelope.HEADERS)], WINDOW)
    assert batch.rows.column("event_id").to_pylist() == ["e1", "e2", "a"]
    assert positions(batch.rows) == [(0, 4, 0), (0, 4, 1), (0, 5, 0)]
    assert [(p.position, p.kind) for p in batch.poison] == [
        ((0, 5, 1), "invalid_json"),
        ((0, 5, 2), "invalid_event"),
        ((0, 5, 3), "invalid_event"),
        ((0, 5, 4), "invalid_event"),
        ((0, 5, 5), "invalid_event"),
    ]
    assert batch.poison[0].value == b"{not json"
    assert "event_type" in batch.poison[1].reason and "tenant_id" in batch.poison[3].reason


def test_an_envelope_header_on_a_message_that_is_not_one() -> None:
    batch = decode([Message(2, 0, None, b"\xff\xfe binary", envelope.HEADERS)], WINDOW)
    assert batch.rows.num_rows == 0
    assert [(p.position, p.kind) for p in batch.poison] == [((2, 0, 0), "invalid_json")]
