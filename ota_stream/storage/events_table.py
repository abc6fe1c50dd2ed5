"""`ota_events_raw`, and how a batch of event lines (wire.py) becomes its columns.

The sink reads a batch of lines into Arrow with `LINE_SCHEMA` in one C++ call, flattens the nested groups into the
table's columns (`to_columns`) and inserts those columns as they are, without a Python object per event.
"""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ota_stream.models import format_timestamp

TABLE = "ota_events_raw"

_S, _F = pa.string(), pa.float64()


def _group(*names: str, types: dict[str, pa.DataType] | None = None) -> pa.StructType:
    return pa.struct([(name, (types or {}).get(name, _S)) for name in names])


# An event line as the sink reads it: the canonical nested form, every group's fields with their Arrow type.
LINE_SCHEMA = pa.schema(
    [
        ("event_id", _S), ("tenant_id", _S), ("org_id", _S), ("app_id", _S), ("device_id", _S),
        ("session_id", _S), ("event_type", _S), ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("device_info", _group("os", "os_version", "model", "manufacturer")),
        ("release_info", _group("current_version", "target_version", "release_notes", "channel",
                                "rollout_percentage", types={"rollout_percentage": _F})),
        ("network_info", _group("connection_type", "bandwidth_mbps", types={"bandwidth_mbps": _F})),
        ("performance_metrics", _group(
            "download_speed_mbps", "download_duration_seconds", "install_duration_seconds", "package_size_bytes",
            "battery_level", "storage_available_mb", "launch_duration_seconds",
            types={"download_speed_mbps": _F, "download_duration_seconds": _F, "install_duration_seconds": _F,
                   "package_size_bytes": pa.uint64(), "battery_level": _F, "storage_available_mb": _F,
                   "launch_duration_seconds": _F})),
        ("error_info", _group("error_code", "error_message", "failure_stage")),
        ("progress", _F), ("cancellation_reason", _S), ("rollback_reason", _S), ("rollback_duration_seconds", _F),
        ("metadata", pa.list_(pa.list_(_S))),
    ]
)  # fmt: skip
# Required in every line; the sink checks them in lines written by other producers.
REQUIRED = ("event_id", "tenant_id", "org_id", "app_id", "device_id", "event_type", "timestamp")
# A group's field -> the table's column, where the names differ.
RENAMED = {
    "device_info.os": "device_os",
    "device_info.os_version": "device_os_version",
    "device_info.model": "device_model",
    "device_info.manufacturer": "device_manufacturer",
    "release_info.channel": "release_channel",
}
# Where the sink read each row: partition, offset, and the row's index within its Kafka message.
POSITION = ("kafka_partition", "kafka_offset", "kafka_index")
POSITION_TYPES = {"kafka_partition": pa.uint32(), "kafka_offset": pa.uint64(), "kafka_index": pa.uint32()}


def _column_name(flat: str) -> str:
    return RENAMED.get(flat, flat.rpartition(".")[2])


COLUMNS: tuple[str, ...] = (
    *(_column_name(name) for name in LINE_SCHEMA.empty_table().flatten().column_names),
    *POSITION,
)
_NO_PAIRS = pa.scalar([], LINE_SCHEMA.field("metadata").type)


def to_columns(lines: pa.Table) -> pa.Table:
    """Lines read with LINE_SCHEMA -> the raw table's columns (positions are added by the caller)."""
    flat = lines.flatten()
    flat = flat.rename_columns([_column_name(name) for name in flat.column_names])
    pairs = pc.fill_null(flat.column("metadata").combine_chunks(), _NO_PAIRS)
    return flat.set_column(flat.schema.get_field_index("metadata"), "metadata", metadata_map(pairs))


def metadata_map(pairs: pa.Array) -> pa.Array:
    """`[[key, value], ...]` per row -> Map(String, String). Every entry must be a pair (the sink checks it)."""
    flat = pairs.flatten()
    return pa.MapArray.from_arrays(
        pairs.offsets,
        pc.list_element(flat, 0),
        pc.list_element(flat, 1),
        type=pa.map_(_S, _S),
        mask=pairs.is_null(),
    )


def stored_line(rows: pa.Table, row: int) -> tuple[bytes, tuple[int, int, int]]:
    """Row `row` of a decoded batch as JSON (its columns), and its position: for a dead letter of a row that
    ClickHouse refused, whose original stays at that position in the events topic."""
    values = rows.slice(row, 1).to_pylist()[0]
    position = (values.pop("kafka_partition"), values.pop("kafka_offset"), values.pop("kafka_index"))
    values["timestamp"] = format_timestamp(values["timestamp"])
    values["metadata"] = [list(pair) for pair in values["metadata"] or ()]
    return orjson.dumps({key: value for key, value in values.items() if value not in (None, [])}), position
