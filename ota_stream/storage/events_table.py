"""`ota_events_raw` and the row form of an event: what ingest writes to Kafka and the sink inserts.

A validated event travels through Kafka as one JSON line whose keys are the raw table's columns (absent values
left out, `metadata` as `[[key, value], ...]`), so that the sink reads a whole batch of lines into Arrow columns
in one C++ call (`ROW_SCHEMA`) and inserts those columns as they are, without a Python object per event.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ota_stream.models import OtaEvent, format_timestamp

TABLE = "ota_events_raw"

_S, _F = pa.string(), pa.float64()
# Every column of a row line, with the Arrow type its JSON value is read as. Required columns are never null
# in a line written by ingest; the sink checks them (REQUIRED) for lines written by anyone else.
ROW_SCHEMA = pa.schema(
    [
        ("event_id", _S), ("tenant_id", _S), ("org_id", _S), ("app_id", _S), ("device_id", _S),
        ("session_id", _S), ("event_type", _S), ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("device_os", _S), ("device_os_version", _S), ("device_model", _S), ("device_manufacturer", _S),
        ("current_version", _S), ("target_version", _S), ("release_notes", _S), ("release_channel", _S),
        ("rollout_percentage", _F),
        ("connection_type", _S), ("bandwidth_mbps", _F),
        ("download_speed_mbps", _F), ("download_duration_seconds", _F), ("install_duration_seconds", _F),
        ("package_size_bytes", pa.uint64()), ("battery_level", _F), ("storage_available_mb", _F),
        ("error_code", _S), ("error_message", _S), ("failure_stage", _S),
        ("progress", _F), ("cancellation_reason", _S), ("rollback_reason", _S),
        ("rollback_duration_seconds", _F),
        ("metadata", pa.list_(pa.list_(_S))),
    ]
)  # fmt: skip
REQUIRED = ("event_id", "tenant_id", "org_id", "app_id", "device_id", "event_type", "timestamp")
# Where the sink read each row: partition, offset, and the row's index within its Kafka message.
POSITION = ("kafka_partition", "kafka_offset", "kafka_index")
COLUMNS: tuple[str, ...] = (*ROW_SCHEMA.names, *POSITION)


def row(event: OtaEvent) -> dict[str, Any]:
    """The event as a row: column -> value, absent values left out."""
    e = event
    values: dict[str, Any] = {
        "event_id": e.event_id, "tenant_id": e.tenant_id, "org_id": e.org_id, "app_id": e.app_id,
        "device_id": e.device_id, "session_id": e.session_id, "event_type": e.event_type.value,
        "timestamp": format_timestamp(e.timestamp),
        "progress": e.progress, "cancellation_reason": e.cancellation_reason, "rollback_reason": e.rollback_reason,
        "rollback_duration_seconds": e.rollback_duration_seconds,
    }  # fmt: skip
    if d := e.device_info:
        values.update(device_os=d.os, device_os_version=d.os_version, device_model=d.model,
                      device_manufacturer=d.manufacturer)  # fmt: skip
    if r := e.release_info:
        values.update(current_version=r.current_version, target_version=r.target_version,
                      release_notes=r.release_notes, release_channel=r.channel,
                      rollout_percentage=r.rollout_percentage)  # fmt: skip
    if n := e.network_info:
        values.update(connection_type=n.connection_type, bandwidth_mbps=n.bandwidth_mbps)
    if p := e.performance_metrics:
        values.update(download_speed_mbps=p.download_speed_mbps,
                      download_duration_seconds=p.download_duration_seconds,
                      install_duration_seconds=p.install_duration_seconds, package_size_bytes=p.package_size_bytes,
                      battery_level=p.battery_level, storage_available_mb=p.storage_available_mb)  # fmt: skip
    if x := e.error_info:
        values.update(error_code=x.error_code, error_message=x.error_message, failure_stage=x.failure_stage)
    if e.metadata:
        values["metadata"] = [[key, value] for key, value in e.metadata.items()]
    return {key: value for key, value in values.items() if value is not None}


def row_line(event: OtaEvent) -> bytes:
    """One line of a Kafka envelope (kafka/envelope.py)."""
    return orjson.dumps(row(event))


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
    """Row `row` of a decoded batch as a row line again, and its position (for a dead letter)."""
    values = rows.slice(row, 1).to_pylist()[0]
    position = (values.pop("kafka_partition"), values.pop("kafka_offset"), values.pop("kafka_index"))
    values["timestamp"] = format_timestamp(values["timestamp"])
    values["metadata"] = [list(pair) for pair in values["metadata"] or ()]
    return orjson.dumps({key: value for key, value in values.items() if value not in (None, [])}), position
