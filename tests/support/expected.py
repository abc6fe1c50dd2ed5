"""Independent computations of the analytics numbers, in plain Python over the events as sent.

Written from docs/api.md#analytics alone; it shares no code with ota_stream.
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


# ---- versions, active devices, failures, performance (docs/api.md#analytics) ----

SEGMENT_FIELDS = {
    "device_os": ("os", "device_info"),
    "device_model": ("model", "device_info"),
    "device_manufacturer": ("manufacturer", "device_info"),
    "device_os_version": ("os_version", "device_info"),
}
FAILURE_KEYS = {
    "error_code": ("error_code", "error_info"),
    "failure_stage": ("failure_stage", "error_info"),
    "target_version": ("target_version", "release_info"),
    "device_os": ("os", "device_info"),
    "device_model": ("model", "device_info"),
}
PERFORMANCE = (
    "download_speed_mbps",
    "download_duration_seconds",
    "install_duration_seconds",
    "package_size_bytes",
)


def version_after(e: Event) -> Any:
    if e["event_type"] == "update_installed":
        return field(e, "target_version", "release_info")
    return field(e, "current_version", "release_info")


def _spread(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "versions": [{"version": v, "device_count": n, "percentage": rate(n, total)} for v, n in ordered],
        "total_devices": total,
    }


def versions(events: list[Event], window: Window, segment: str | None = None) -> dict[str, Any]:
    latest: dict[str, Event] = {}
    for e in window.select(events):
        if version_after(e) is None:
            continue
        key = (parse(e["timestamp"]), e.get("event_id", ""))
        seen = latest.get(e["device_id"])
        if seen is None or key > (parse(seen["timestamp"]), seen.get("event_id", "")):
            latest[e["device_id"]] = e
    if segment is None:
        return _spread(Counter(version_after(e) for e in latest.values()))
    name, group = SEGMENT_FIELDS[segment]
    by_segment: dict[str, Counter[str]] = {}
    for e in latest.values():
        by_segment.setdefault(field(e, name, group) or "unknown", Counter())[version_after(e)] += 1
    segments = [{"segment": s, **_spread(c)} for s, c in by_segment.items()]
    return {"segments": sorted(segments, key=lambda s: (-s["total_devices"], s["segment"]))}


def active_devices(events: list[Event], window: Window) -> dict[str, Any]:
    days: dict[str, set[str]] = {}
    for e in window.select(events):
        days.setdefault(parse(e["timestamp"]).strftime("%Y-%m-%d"), set()).add(e["device_id"])
    return {
        "daily_active_devices": [{"date": d, "active_devices": len(days[d])} for d in sorted(days)],
        "total_active_devices": len(set().union(*days.values())) if days else 0,
    }


def failures(events: list[Event], window: Window, group_by: str = "error_code") -> dict[str, Any]:
    selected = window.select(events)
    failed = [e for e in selected if e["event_type"] == "update_failed"]
    installed = sum(1 for e in selected if e["event_type"] == "update_installed")
    name, group = FAILURE_KEYS[group_by]
    keys: dict[str, list[Event]] = {}
    for e in failed:
        keys.setdefault(field(e, name, group) or "unknown", []).append(e)
    breakdown = [
        {
            "key": k,
            "count": len(v),
            "affected_devices": len({e["device_id"] for e in v}),
            "percentage": rate(len(v), len(failed)),
        }
        for k, v in keys.items()
    ]
    return {
        "total_failures": len(failed),
        "failure_rate": rate(len(failed), installed + len(failed)),
        "affected_devices": len({e["device_id"] for e in failed}),
        "rollbacks": sum(1 for e in selected if e["event_type"] == "rollback_completed"),
        "group_by": group_by,
        "breakdown": sorted(breakdown, key=lambda r: (-r["count"], r["key"])),
    }


def quantile(sorted_samples: list[float], q: float) -> float:
    """ClickHouse quantileExact: the element at min(n-1, floor(q*n)) of the sorted samples."""
    return sorted_samples[min(len(sorted_samples) - 1, int(q * len(sorted_samples)))]


def _summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"avg": None, "p50": None, "p95": None, "samples": 0}
    ordered = sorted(samples)
    return {
        "avg": round(sum(samples) / len(samples), 2),
        "p50": round(quantile(ordered, 0.5), 2),
        "p95": round(quantile(ordered, 0.95), 2),
        "samples": len(samples),
    }


def performance(events: list[Event], window: Window) -> dict[str, Any]:
    selected = window.select(events)
    values = {m: [field(e, m, "performance_metrics") for e in selected] for m in PERFORMANCE}
    data: dict[str, Any] = {m: _summary([float(v) for v in vs if v is not None]) for m, vs in values.items()}
    days: dict[str, dict[str, list[float]]] = {}
    for e in selected:
        day = days.setdefault(parse(e["timestamp"]).strftime("%Y-%m-%d"), {"speed": [], "install": []})
        speed = field(e, "download_speed_mbps", "performance_metrics")
        install = field(e, "install_duration_seconds", "performance_metrics")
        if speed is not None:
            day["speed"].append(speed)
        if install is not None:
            day["install"].append(install)

    def avg(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 2) if xs else None

    data["daily"] = [
        {
            "date": d,
            "avg_download_speed_mbps": avg(days[d]["speed"]),
            "avg_install_duration_seconds": avg(days[d]["install"]),
        }
        for d in sorted(days)
        if days[d]["speed"] or days[d]["install"]
    ]
    return data


def assert_same(got: Any, want: Any, path: str = "data") -> None:
    """Exact equality, except averages, which may differ in the last place of a float sum: ±0.01."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (path, got, want)
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif path.rsplit(".", 1)[-1].startswith("avg") and isinstance(want, float) and isinstance(got, float):
        assert abs(got - want) <= 0.0100001, (path, got, want)
    else:
        assert got == want and type(got) is type(want), (path, got, want)
