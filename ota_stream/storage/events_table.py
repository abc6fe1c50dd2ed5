"""The mapping from a validated event to a row of `ota_events_raw`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ota_stream.models import OtaEvent

TABLE = "ota_events_raw"

COLUMNS: tuple[str, ...] = (
    "event_id", "tenant_id", "org_id", "app_id", "device_id", "session_id", "event_type", "timestamp",
    "device_os", "device_os_version", "device_model", "device_manufacturer",
    "current_version", "target_version", "release_notes", "release_channel", "rollout_percentage",
    "connection_type", "bandwidth_mbps",
    "download_speed_mbps", "download_duration_seconds", "install_duration_seconds", "package_size_bytes",
    "battery_level", "storage_available_mb",
    "error_code", "error_message", "failure_stage",
    "progress", "cancellation_reason", "rollback_reason", "rollback_duration_seconds", "metadata",
    "kafka_partition", "kafka_offset",
)  # fmt: skip


@dataclass(frozen=True)
class SourcedEvent:
    """A validated event and the Kafka position it was read from."""

    event: OtaEvent
    partition: int
    offset: int

    @property
    def dedup_key(self) -> tuple[str, str]:
        return self.event.tenant_id, self.event.event_id


def to_row(item: SourcedEvent) -> tuple[Any, ...]:
    e = item.event
    d, r, n, p, x = e.device_info, e.release_info, e.network_info, e.performance_metrics, e.error_info
    return (
        e.event_id, e.tenant_id, e.org_id, e.app_id, e.device_id, e.session_id, e.event_type.value, e.timestamp,
        d and d.os, d and d.os_version, d and d.model, d and d.manufacturer,
        r and r.current_version, r and r.target_version, r and r.release_notes, r and r.channel,
        r and r.rollout_percentage,
        n and n.connection_type, n and n.bandwidth_mbps,
        p and p.download_speed_mbps, p and p.download_duration_seconds, p and p.install_duration_seconds,
        p and p.package_size_bytes, p and p.battery_level, p and p.storage_available_mb,
        x and x.error_code, x and x.error_message, x and x.failure_stage,
        e.progress, e.cancellation_reason, e.rollback_reason, e.rollback_duration_seconds, e.metadata or {},
        item.partition, item.offset,
    )  # fmt: skip
