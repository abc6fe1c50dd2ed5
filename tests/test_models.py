"""The event model (docs/events.md): both forms, every limit, and errors that name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ota_stream.models import InvalidEvent, OtaEvent, TimeWindow, format_timestamp, parse_event

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = TimeWindow(retention_days=365).bounds(NOW)


def base(**extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "org_id": "mobile",
        "app_id": "shop",
        "device_id": "device-1",
        "event_type": "update_started",
        "timestamp": "2026-06-01T10:30:00Z",
        **extra,
    }


def errors(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data, WINDOW)
    return {e.field: e.message for e in caught.value.errors}


def test_nested_and_flat_forms_mean_the_same() -> None:
    nested = parse_event(
        base(
            event_id="e1",
            release_info={"current_version": "1.0.0", "target_version": "1.1.0"},
            device_info={"os": "iOS", "model": "iPhone"},
            error_info={"error_code": "E1", "failure_stage": "install"},
            performance_metrics={"download_speed_mbps": 12.5, "package_size_bytes": 1000},
        ),
        WINDOW,
    )
    flat = parse_event(
        base(
            event_id="e1",
            current_version="1.0.0",
            target_version="1.1.0",
            os="iOS",
            model="iPhone",
            error_code="E1",
            failure_stage="install",
            download_speed_mbps=12.5,
            package_size_bytes=1000,
        ),
        WINDOW,
    )
    assert nested == flat
    assert flat.release_info is not None and flat.release_info.target_version == "1.1.0"


def test_timestamp_is_stored_in_utc_with_milliseconds() -> None:
    event = parse_event(base(timestamp="2026-06-01T12:30:00.123987+02:00"), WINDOW)
    assert event.timestamp == datetime(2026, 6, 1, 10, 30, 0, 123000, tzinfo=UTC)
    assert format_timestamp(event.timestamp) == "2026-06-01T10:30:00.123Z"
    assert json.loads(event.to_json())["timestamp"] == "2026-06-01T10:30:00.123Z"


def test_missing_event_id_gets_a_uuid4() -> None:
    a, b = parse_event(base(), WINDOW), parse_event(base(), WINDOW)
    assert a.event_id != b.event_id and len(a.event_id) == 36 and a.event_id[14] == "4"


def test_wire_format_round_trips() -> None:
    event = parse_event(base(event_id="x", metadata={"k": "v"}, progress=50), WINDOW)
    assert OtaEvent.model_validate_json(event.to_json()) == event


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tenant_id": "has space"}, "tenant_id"),
        ({"tenant_id": "x" * 65}, "tenant_id"),
        ({"org_id": ""}, "org_id"),
        ({"app_id": "a/b"}, "app_id"),
        ({"device_id": "d" * 129}, "device_id"),
        ({"event_id": ""}, "event_id"),
        ({"event_type": "update_exploded"}, "event_type"),
        ({"timestamp": "2026-06-01T10:30:00"}, "timestamp"),
        ({"timestamp": "2026-06-01"}, "timestamp"),
        ({"timestamp": 1780000000}, "timestamp"),
        ({"timestamp": "2026-06-02T13:00:00Z"}, "timestamp"),
        ({"timestamp": "2024-01-01T00:00:00Z"}, "timestamp"),
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"progress": "50"}, "progress"),
        ({"battery_level": 100.5}, "battery_level"),
        ({"performance_metrics": {"battery_level": -0.1}}, "performance_metrics.battery_level"),
        ({"release_info": {"rollout_percentage": 100.01}}, "release_info.rollout_percentage"),
        ({"download_speed_mbps": -1}, "download_speed_mbps"),
        ({"install_duration_seconds": float("inf")}, "install_duration_seconds"),
        ({"rollback_duration_seconds": float("nan")}, "rollback_duration_seconds"),
        ({"package_size_bytes": 1.5}, "package_size_bytes"),
        ({"package_size_bytes": True}, "package_size_bytes"),
        ({"metadata": {str(i): "v" for i in range(33)}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"device_info": {"os": "iOS", "cpu": "arm"}}, "device_info.cpu"),
        ({"device_info": "iOS"}, "device_info"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"target_version": "1.0", "release_info": {"target_version": "2.0"}}, "target_version"),
    ],
)
def test_invalid_fields_are_named(extra: dict[str, Any], field: str) -> None:
    assert field in errors(base(**extra))


def test_missing_required_fields_are_each_named() -> None:
    found = errors({"tenant_id": "acme"})
    assert {"org_id", "app_id", "device_id", "event_type", "timestamp"} <= set(found)
    assert found["org_id"] == "is required"


def test_not_an_object() -> None:
    assert errors([1, 2]) == {"$": "an event must be a JSON object"}


def test_timestamp_limits_are_24h_ahead_and_retention_behind() -> None:
    parse_event(base(timestamp=format_timestamp(NOW + timedelta(hours=23, minutes=59))), WINDOW)
    parse_event(base(timestamp=format_timestamp(NOW - timedelta(days=364))), WINDOW)
    assert (
        "future"
        in errors(base(timestamp=format_timestamp(NOW + timedelta(hours=24, seconds=1))))["timestamp"]
    )
    assert "retention" in errors(base(timestamp=format_timestamp(NOW - timedelta(days=366))))["timestamp"]


def test_flat_and_nested_same_value_is_accepted() -> None:
    event = parse_event(base(target_version="1.0", release_info={"target_version": "1.0"}), WINDOW)
    assert event.release_info is not None and event.release_info.target_version == "1.0"


def test_partition_key_groups_an_app() -> None:
    assert parse_event(base(), WINDOW).partition_key == b'"acme/mobile/shop"'


def test_the_window_without_a_time_is_the_window_of_the_current_millisecond() -> None:
    window = TimeWindow(retention_days=30)
    start = datetime.now(UTC)
    before = start.replace(microsecond=start.microsecond // 1000 * 1000)
    oldest, newest = window.bounds()
    after = datetime.now(UTC)
    assert window.bounds(before)[0] <= oldest <= window.bounds(after)[0]
    assert window.bounds(before)[1] <= newest <= window.bounds(after)[1]
    # Both ends from one instant on a whole millisecond.
    assert newest - oldest == timedelta(days=30, hours=24)
    assert oldest.microsecond % 1000 == 0
