"""Live-window scenarios and the independent computation of what `/live/.../windows` must answer."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.expected import parse, unique
from tests.support.scenario import Event, field, rfc3339

TYPES = ["update_started", "update_downloaded", "update_installed", "update_failed", "rollback_completed"]


def recent_events(
    apps: list[str], count: int, seed: int = 1, minutes: float = 30, types: list[str] = TYPES
) -> list[Event]:
    """Events of tenant `live` spread over the last `minutes`, with some client retries."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    events: list[Event] = []
    for _ in range(count):
        app = rng.choice(apps)
        event_type = rng.choice(types)
        event: Event = {
            "tenant_id": "live",
            "org_id": "o",
            "app_id": app,
            "device_id": f"{app}-d{rng.randint(0, 40)}",
            "event_type": event_type,
            "timestamp": rfc3339(now - timedelta(seconds=rng.uniform(5, minutes * 60))),
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        }
        if event_type == "update_installed":
            event["target_version"] = rng.choice(["2.0.0", "2.1.0"])
        if event_type == "update_failed" and rng.random() < 0.8:
            event["error_code"] = rng.choice(["E_NET", "E_DISK"])
        events.append(event)
    return events + [dict(e) for e in rng.sample(events, count // 20)]


def expected_windows(events: list[Event], app_key: str, size: int) -> list[dict[str, Any]]:
    """Every window of the app with data, newest first, rendered like the API."""
    buckets: dict[int, list[Event]] = {}
    for e in unique(events):
        if f"{e['tenant_id']}/{e['org_id']}/{e['app_id']}" != app_key:
            continue
        start = int(parse(e["timestamp"]).timestamp() // size) * size
        buckets.setdefault(start, []).append(e)
    rendered = []
    for start in sorted(buckets, reverse=True):
        items = buckets[start]
        installed = [e for e in items if e["event_type"] == "update_installed"]
        failed = [e for e in items if e["event_type"] == "update_failed"]
        rendered.append(
            {
                "start": rfc3339(datetime.fromtimestamp(start, UTC)),
                "end": rfc3339(datetime.fromtimestamp(start + size, UTC)),
                "counts": dict(Counter(e["event_type"] for e in items)),
                "installs_by_version": dict(
                    Counter(field(e, "target_version", "release_info") or "unknown" for e in installed)
                ),
                "failures_by_error": dict(
                    Counter(field(e, "error_code", "error_info") or "unknown" for e in failed)
                ),
                "active_devices": len({e["device_id"] for e in items}),
            }
        )
    return rendered
