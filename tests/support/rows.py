"""Batches of rows built through the real path: validated as ingest does, packed into envelopes, decoded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from ota_stream import wire
from ota_stream.agents.decode import Batch, Message, decode
from ota_stream.kafka import envelope
from ota_stream.models import TimeWindow, parse_event


def envelopes(
    events: Sequence[dict[str, Any]],
    partition: int = 0,
    offset: int = 0,
    per_message: int = 100,
    now: datetime | None = None,
) -> list[Message]:
    """The events as envelopes of `per_message` lines, at consecutive offsets from `offset`."""
    window = TimeWindow(365).bounds(now)
    lines = [wire.accept_model(parse_event(event, window)).line for event in events]
    return [
        Message(partition, offset + n, None, envelope.pack(lines[i : i + per_message]), envelope.HEADERS)
        for n, i in enumerate(range(0, len(lines), per_message))
    ]


def batch(events: Sequence[dict[str, Any]], **where: Any) -> Batch:
    return decode(envelopes(events, **where), TimeWindow(365).bounds(where.get("now")))


def rows(events: Sequence[dict[str, Any]], **where: Any) -> pa.Table:
    decoded = batch(events, **where)
    assert not decoded.poison, decoded.poison
    return decoded.rows


def positions(rows: pa.Table) -> list[tuple[int, int, int]]:
    """(partition, offset, index) of each row, in order."""
    columns = ("kafka_partition", "kafka_offset", "kafka_index")
    return list(zip(*(rows.column(c).to_pylist() for c in columns), strict=True))
