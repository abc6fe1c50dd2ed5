"""Independent computations of the analytics numbers, in plain Python over the events as sent.

Written from spec §3 alone; it shares no code with ota_stream.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.support.scenario import Event, field


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def rate(a: int, b: int) -> float:
    return round(100 * a / b, 2) if b else 0.0


def unique(events: list[Event]) -> list[Event]:
    """Deduplicate by (tenant_id, event_id), first wins; events without an id are all distinct."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for event in events:
        if "event_id" in event:
            key = (event["tenant_id"], event["event_id"])
            if key in seen:
                continue
            seen.add(key)
        kept.append(event)
    return kept


@dataclass(frozen=True)
class Window:
    tenant_id: str
    start: datetime
    end: datetime
    org_id: str | None = None
    app_id: str | None = None

    def select(self, events: list[Event]) -> list[Event]:
        return [
            e
            for e in unique(events)
            if e["tenant_id"] == self.tenant_id
            and (self.org_id is None or e["org_id"] == self.org_id)
            and (self.app_id is None or e["app_id"] == self.app_id)
            and self.start <= parse(e["timestamp"]) <= self.end
        ]


def adoption(events: list[Event], window: Window, target_version: str | None = None) -> dict[str, Any]:
    selected = window.select(events)
    if target_version is not None:
        selected = [e for e in selected if field(e, "target_version", "release_info") == target_version]
    installed = [e for e in selected if e["event_type"] == "update_installed"]
    failed = [e for e in selected if e["event_type"] == "update_failed"]
    hours: Counter[tuple[str, str]] = Counter()
    for e in installed + failed:
        hour = parse(e["timestamp"]).strftime("%Y-%m-%dT%H:00:00Z")
        hours[(hour, e["event_type"])] += 1
    hour_keys = sorted({hour for hour, _ in hours})
    total = len(installed) + len(failed)
    return {
        "total_updates": total,
        "successful_updates": len(installed),
        "failed_updates": len(failed),
        "success_rate": rate(len(installed), total),
        "rollbacks": sum(1 for e in selected if e["event_type"] == "rollback_completed"),
        "unique_devices_updated": len({e["device_id"] for e in installed}),
        "hourly_installs": [
            {"hour": h, "installs": hours[(h, "update_installed")], "failures": hours[(h, "update_failed")]}
            for h in hour_keys
        ],
    }
