"""Consecutive envelopes of one partition, handed to Faust as one message.

Faust's cost is paid per Kafka message (envelope.py). Under light load a flight of ingest carries a few events per
partition, so the worker received envelopes of one or two events and paid that cost for nearly every event: at 16
concurrent single-event requests its stream processing took a quarter of a core for 4,000 events/s, most of it in
Faust's fetch, dispatch and ack of each message (bench/RESULTS.md, issue 19). So the consumer thread joins each run
of consecutive envelopes of a partition within one fetch into one record of at most `envelope.MAX_EVENTS` lines.
Faust sees one message whose offset is the run's last; `parts` keeps the offset and line count of each envelope
in it, so that every event keeps its own position (partition, offset, index), which the sink writes, live windows
gate replays on, and dead letters name.

Acking the joined message acks the whole run. Faust counts the offsets before it as a gap in what it read
(`Consumer._add_gap`), the way it steps over offsets a compacted topic no longer has, and the ack of the message
closes the gap: the commit moves past the run's last offset, never past an envelope not yet processed. Only
envelopes without a key are joined (ours); any other message stays a message of its own, so the order within a
partition is kept, and changelog records are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import ConsumerRecord

from ota_stream.kafka import envelope

Part = tuple[int, int]  # (offset, lines) of one envelope in a joined record
PARTS_ATTRIBUTE = "ota_envelope_parts"


@dataclass
class JoinedRecord(ConsumerRecord[bytes, bytes]):
    """A run of envelopes as one record: the last one's offset and headers, every line, and where each came from."""

    parts: tuple[Part, ...] = ()


def join_envelopes(
    records: Sequence[ConsumerRecord[Any, Any]], max_lines: int = envelope.MAX_EVENTS
) -> list[Any]:
    """`records` of one partition, in order, with each run of consecutive envelopes joined (at most `max_lines`
    lines a record); a run of one is passed on as it came."""
    joined: list[Any] = []
    run: list[tuple[ConsumerRecord[Any, Any], int]] = []
    run_lines = 0
    for record in records:
        if record.key is not None or not envelope.is_envelope(record.headers):
            joined.extend(_join(run))
            run, run_lines = [], 0
            joined.append(record)
            continue
        lines = envelope.line_count(record.value)
        if run and run_lines + lines > max_lines:
            joined.extend(_join(run))
            run, run_lines = [], 0
        run.append((record, lines))
        run_lines += lines
    joined.extend(_join(run))
    return joined


def _join(run: list[tuple[ConsumerRecord[Any, Any], int]]) -> list[Any]:
    if len(run) < 2:
        return [record for record, _ in run]
    last = run[-1][0]
    return [
        JoinedRecord(
            topic=last.topic,
            partition=last.partition,
            offset=last.offset,
            timestamp=last.timestamp,
            timestamp_type=last.timestamp_type,
            key=None,
            value=envelope.pack([record.value for record, _ in run]),
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=sum(record.serialized_value_size for record, _ in run),
            headers=last.headers,
            parts=tuple((record.offset, lines) for record, lines in run),
        )
    ]


def mark_parts(message: Any, record: Any) -> Any:
    """Faust's message for `record`, carrying the parts of a joined record (a ConsumerMessage has a __dict__)."""
    if isinstance(record, JoinedRecord):
        setattr(message, PARTS_ATTRIBUTE, record.parts)
    return message


def parts_of(message: Any) -> tuple[Part, ...] | None:
    """The envelopes a Faust message joins, or None for a message as it was written."""
    parts: tuple[Part, ...] | None = getattr(message, PARTS_ATTRIBUTE, None)
    return parts
