"""What both peers do with a batch of Kafka message values: split envelopes into event lines, orjson each line,
build Arrow columns, insert. The plain way a peer would write it, without our decoder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa

from ota_stream.storage.events_table import COLUMNS, LINE_SCHEMA, RENAMED, metadata_map

# (group or None, field) of each column, and its Arrow type.
FIELDS: dict[str, tuple[str | None, str, pa.DataType]] = {}
for top in LINE_SCHEMA:
    if pa.types.is_struct(top.type):
        for child in top.type:
            FIELDS[RENAMED.get(f"{top.name}.{child.name}", child.name)] = (top.name, child.name, child.type)
    else:
        FIELDS[top.name] = (None, top.name, top.type)


def _value(event: dict[str, Any], group: str | None, name: str) -> Any:
    return (event.get(group) or {}).get(name) if group else event.get(name)


def table(values: Iterable[tuple[int, int, bytes]]) -> pa.Table:
    """(partition, offset, value) of each message -> the raw table's columns."""
    events, partitions, offsets, indexes = [], [], [], []
    for partition, offset, value in values:
        for index, line in enumerate(value.split(b"\n")):
            events.append(orjson.loads(line))
            partitions.append(partition)
            offsets.append(offset)
            indexes.append(index)
    arrays: dict[str, pa.Array] = {}
    for column, (group, name, kind) in FIELDS.items():
        column_values = [_value(event, group, name) for event in events]
        if column == "timestamp":
            arrays[column] = pa.array(column_values).cast(kind)
        elif column == "metadata":
            arrays[column] = metadata_map(pa.array([v or [] for v in column_values], kind))
        else:
            arrays[column] = pa.array(column_values, kind)
    arrays["kafka_partition"] = pa.array(partitions, pa.uint32())
    arrays["kafka_offset"] = pa.array(offsets, pa.uint64())
    arrays["kafka_index"] = pa.array(indexes, pa.uint32())
    return pa.table([arrays[c] for c in COLUMNS], names=list(COLUMNS))
