"""Malformed and hostile requests with the 4xx each must get (tests/test_bad_input.py over HTTP,
tests/test_wire.py against the parser directly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tests.support.scenario import rfc3339

NOW = datetime.now(UTC)


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenant_id": "bad",
        "org_id": "o",
        "app_id": "a",
        "device_id": "d1",
        "event_type": "update_installed",
        "timestamp": rfc3339(NOW - timedelta(minutes=5)),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


JSON = {"Content-Type": "application/json"}


# (name, path, headers, body bytes, status, a field that the error must name, or None)
CASES: list[tuple[str, str, dict[str, str], bytes, int, str | None]] = [
    ("not json", "/events", JSON, b"{nope", 400, None),
    ("empty body", "/events", JSON, b"", 400, None),
    ("truncated", "/events", JSON, b'{"tenant_id": "x"', 400, None),
    ("nan literal", "/events", JSON, b'{"progress": NaN}', 400, None),
    ("deep nesting", "/events", JSON, b"[" * 5000 + b"]" * 5000, 400, None),
    ("lone surrogate", "/events", JSON, b'{"device_id": "\\ud800"}', 400, None),
    ("invalid utf-8", "/events", JSON, b'{"device_id": "\xff\xfe"}', 400, None),
    (
        "form content type",
        "/events",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=1",
        415,
        None,
    ),
    ("text content type", "/events", {"Content-Type": "text/plain"}, orjson.dumps(event()), 415, None),
    ("no content type", "/events", {}, orjson.dumps(event()), 415, None),
    (
        "ndjson on single",
        "/events",
        {"Content-Type": "application/x-ndjson"},
        orjson.dumps(event()),
        415,
        None,
    ),
    (
        "oversized single",
        "/events",
        JSON,
        orjson.dumps(event(release_info={"release_notes": "x" * 70_000})),
        413,
        None,
    ),
    ("oversized batch", "/events/batch", JSON, orjson.dumps([event()] * 20_000), 413, None),
    ("1001 events", "/events/batch", JSON, orjson.dumps([event()] * 1001), 413, None),
    ("array on single", "/events", JSON, b"[1, 2]", 422, "$"),
    ("string on single", "/events", JSON, b'"event"', 422, "$"),
    ("batch not array", "/events/batch", JSON, orjson.dumps(event()), 422, "$"),
    ("empty batch", "/events/batch", JSON, b"[]", 422, "$"),
    ("missing tenant", "/events", JSON, orjson.dumps(event(tenant_id=...)), 422, "tenant_id"),
    ("missing timestamp", "/events", JSON, orjson.dumps(event(timestamp=...)), 422, "timestamp"),
    (
        "unknown event type",
        "/events",
        JSON,
        orjson.dumps(event(event_type="update_exploded")),
        422,
        "event_type",
    ),
    ("event type number", "/events", JSON, orjson.dumps(event(event_type=5)), 422, "event_type"),
    ("tenant with slash", "/events", JSON, orjson.dumps(event(tenant_id="a/b")), 422, "tenant_id"),
    ("tenant sql", "/events", JSON, orjson.dumps(event(tenant_id="x'; DROP TABLE t; --")), 422, "tenant_id"),
    ("tenant unicode", "/events", JSON, orjson.dumps(event(tenant_id="tenänt")), 422, "tenant_id"),
    ("huge device id", "/events", JSON, orjson.dumps(event(device_id="d" * 5000)), 422, "device_id"),
    ("device id number", "/events", JSON, orjson.dumps(event(device_id=123)), 422, "device_id"),
    ("no time zone", "/events", JSON, orjson.dumps(event(timestamp="2026-01-01T00:00:00")), 422, "timestamp"),
    ("date only", "/events", JSON, orjson.dumps(event(timestamp="2026-01-01")), 422, "timestamp"),
    ("epoch number", "/events", JSON, orjson.dumps(event(timestamp=1_700_000_000)), 422, "timestamp"),
    ("far future", "/events", JSON, orjson.dumps(event(timestamp="2999-01-01T00:00:00Z")), 422, "timestamp"),
    ("far past", "/events", JSON, orjson.dumps(event(timestamp="1970-01-01T00:00:00Z")), 422, "timestamp"),
    ("year 0", "/events", JSON, orjson.dumps(event(timestamp="0000-01-01T00:00:00Z")), 422, "timestamp"),
    ("progress 101", "/events", JSON, orjson.dumps(event(progress=101)), 422, "progress"),
    ("progress string", "/events", JSON, orjson.dumps(event(progress="50")), 422, "progress"),
    ("battery negative", "/events", JSON, orjson.dumps(event(battery_level=-1)), 422, "battery_level"),
    ("number overflows double", "/events", JSON, b'{"download_speed_mbps": 1e999}', 400, None),
    (
        "launch duration negative",
        "/events",
        JSON,
        orjson.dumps(event(event_type="app_launched", launch_duration_seconds=-0.5)),
        422,
        "launch_duration_seconds",
    ),
    (
        "launch duration string",
        "/events",
        JSON,
        orjson.dumps(
            event(event_type="app_launched", performance_metrics={"launch_duration_seconds": "1.2"})
        ),
        422,
        "performance_metrics.launch_duration_seconds",
    ),
    ("launch duration infinite", "/events", JSON, b'{"launch_duration_seconds": 1e999}', 400, None),
    ("size float", "/events", JSON, orjson.dumps(event(package_size_bytes=1.5)), 422, "package_size_bytes"),
    (
        "size too big",
        "/events",
        JSON,
        orjson.dumps(event(package_size_bytes=2**64 - 1)),
        422,
        "package_size_bytes",
    ),
    (
        "rollout 1000",
        "/events",
        JSON,
        orjson.dumps(event(release_info={"rollout_percentage": 1000})),
        422,
        "release_info.rollout_percentage",
    ),
    ("nested not object", "/events", JSON, orjson.dumps(event(device_info=["iOS"])), 422, "device_info"),
    (
        "nested unknown",
        "/events",
        JSON,
        orjson.dumps(event(device_info={"cpu": "x"})),
        422,
        "device_info.cpu",
    ),
    ("unknown top field", "/events", JSON, orjson.dumps(event(extra_field=1)), 422, "extra_field"),
    (
        "metadata 33 keys",
        "/events",
        JSON,
        orjson.dumps(event(metadata={str(i): "v" for i in range(33)})),
        422,
        "metadata",
    ),
    ("metadata nested", "/events", JSON, orjson.dumps(event(metadata={"k": {"a": 1}})), 422, "metadata.k"),
    (
        "flat vs nested conflict",
        "/events",
        JSON,
        orjson.dumps(event(target_version="1", release_info={"target_version": "2"})),
        422,
        "target_version",
    ),
    ("null required", "/events", JSON, orjson.dumps(event(org_id=None)), 422, "org_id"),
]
