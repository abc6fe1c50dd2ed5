"""What both peers do with a batch of Kafka message values: split envelopes into row lines, orjson each line,
build Arrow columns, insert. The plain way a peer would write it, without our decoder."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import pyarrow as pa

from ota_stream.storage.events_table import ROW_SCHEMA, metadata_map

TYPES = {field.name: field.type for field in ROW_SCHEMA}


def table(values: Iterable[tuple[int, int, bytes]]) -> pa.Table:
    """(partition, offset, value) of each message -> the raw table's columns."""
    rows, partitions, offsets, indexes = [], [], [], []
    for partition, offset, value in values:
        for index, line in enumerate(value.split(b"\n")):
            rows.append(orjson.loads(line))
            partitions.append(partition)
            offsets.append(offset)
            indexes.append(index)
    columns = {
        name: [row.get(name) for row in rows] for name in TYPES if name not in ("timestamp", "metadata")
    }
    arrays = {name: pa.array(column, TYPES[name]) for name, column in columns.items()}
    arrays["timestamp"] = pa.array([row["timestamp"] for row in rows]).cast(TYPES["timestamp"])
    arrays["metadata"] = metadata_map(
        pa.array([row.get("metadata") or [] for row in rows], TYPES["metadata"])
    )
    arrays["kafka_partition"] = pa.array(partitions, pa.uint32())
    arrays["kafka_offset"] = pa.array(offsets, pa.uint64())
    arrays["kafka_index"] = pa.array(indexes, pa.uint32())
    return pa.table(arrays)
