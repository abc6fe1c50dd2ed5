"""Synthetic OTA traffic for tests: device lifecycles across tenants, apps and versions.

Events are plain dicts, as a client would send them, in the nested or the flat form.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

Event = dict[str, Any]
ERRORS = [
    ("E_NETWORK", "download"),
    ("E_DISK_FULL", "install"),
    ("E_CHECKSUM", "verify"),
    ("E_TIMEOUT", None),
]


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class Scenario:
    tenants: tuple[str, ...] = ("acme", "globex")
    orgs: tuple[str, ...] = ("mobile", "web")
    apps: tuple[str, ...] = ("shop", "chat")
    devices_per_app: int = 6
    seed: int = 7
    now: datetime | None = None
    # Also `app_launched` and `update_checked` (activity, docs/events.md): launches after updates, and devices that only
    # launch. Drawn from a generator of their own, so that the update events are the same with or without them.
    activity: bool = False

    def build(self) -> list[Event]:
        rng = random.Random(self.seed)
        other = random.Random(self.seed + 1)
        now = self.now or datetime.now(UTC)
        events: list[Event] = []
        for tenant in self.tenants:
            for org in self.orgs:
                for app in self.apps:
                    for n in range(self.devices_per_app):
                        device = f"{tenant}-{org}-{app}-dev{n}"
                        events.extend(self._lifecycle(rng, now, tenant, org, app, device))
                        if rng.random() < 0.4:  # a later update of the same device, days after
                            later = parse_start(events[-1]) + timedelta(days=rng.uniform(1, 5))
                            if later < now + timedelta(hours=12):
                                events.extend(self._lifecycle(rng, now, tenant, org, app, device, later))
                        if self.activity:
                            events.extend(_activity(other, events[-1], device))
                    if self.activity:
                        for n in range(2):  # devices that only launch and check, never update
                            base = {"tenant_id": tenant, "org_id": org, "app_id": app}
                            idle = {**base, "event_type": "update_checked", "current_version": "1.0.0",
                                    "timestamp": rfc3339(now - timedelta(days=other.uniform(0.1, 20)))}  # fmt: skip
                            events.extend(_activity(other, idle, f"{tenant}-{org}-{app}-idle{n}"))
        return events

    def _lifecycle(
        self,
        rng: random.Random,
        now: datetime,
        tenant: str,
        org: str,
        app: str,
        device: str,
        start: datetime | None = None,
    ) -> list[Event]:
        # Most activity in the last 20 days; some 40 days old (outside days=30); a little in the future.
        roll = rng.random()
        if start is not None:
            pass
        elif roll < 0.1:
            start = now - timedelta(days=40, hours=rng.uniform(0, 48))
        elif roll < 0.15:
            start = now + timedelta(hours=2, minutes=rng.uniform(0, 60))
        else:
            start = now - timedelta(days=rng.uniform(0.1, 20))
        current, target = rng.choice([("1.0.0", "1.1.0"), ("1.0.0", "1.2.0"), ("1.1.0", "1.2.0")])
        base = {"tenant_id": tenant, "org_id": org, "app_id": app, "device_id": device}
        flat = rng.random() < 0.5
        info = {"os": rng.choice(["iOS", "Android"]), "os_version": rng.choice(["17", "14"]), "model": "M1"}
        steps = ["update_started", "update_downloading", "update_downloaded", "update_installing"]
        outcome = rng.choices(["update_installed", "update_failed", "update_cancelled"], [0.7, 0.2, 0.1])[0]
        steps.append(outcome)
        if outcome == "update_installed" and rng.random() < 0.25:
            steps += ["rollback_started", "rollback_completed"]
        events = []
        for i, event_type in enumerate(steps):
            ts = start + timedelta(minutes=3 * i, milliseconds=rng.randint(0, 999))
            event: Event = {**base, "event_type": event_type, "timestamp": rfc3339(ts)}
            if rng.random() < 0.8:
                event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
            release: dict[str, Any] = {"current_version": current, "target_version": target}
            if event_type == "rollback_completed":
                release = {"current_version": current, "target_version": target}
            perf: dict[str, Any] = {}
            if event_type == "update_downloaded":
                perf = {
                    "download_speed_mbps": round(rng.uniform(1, 80), 3),
                    "package_size_bytes": rng.randint(1, 9) * 10**6,
                }
            if event_type == "update_installed":
                perf = {"install_duration_seconds": round(rng.uniform(1, 120), 3)}
            error: dict[str, Any] = {}
            if event_type == "update_failed":
                code, stage = rng.choice(ERRORS)
                error = {"error_code": code, "error_message": "failed"}
                if stage:
                    error["failure_stage"] = stage
            groups = {
                "device_info": info,
                "release_info": release,
                "performance_metrics": perf,
                "error_info": error,
            }
            place(event, groups, flat)
            events.append(event)
        return events


def _activity(rng: random.Random, last: Event, device: str) -> list[Event]:
    """A launch and sometimes an update check after `last`, reporting the version that `last` left running."""
    running = field(last, "current_version", "release_info")
    if last["event_type"] == "update_installed":
        running = field(last, "target_version", "release_info")
    base = {key: last[key] for key in ("tenant_id", "org_id", "app_id")}
    start = parse_start(last)
    events: list[Event] = []
    for i, event_type in enumerate(["app_launched", "update_checked"][: rng.randint(1, 2)]):
        at = start + timedelta(minutes=5 + i, milliseconds=rng.randint(0, 999))
        event: Event = {**base, "device_id": device, "event_type": event_type, "timestamp": rfc3339(at)}
        if rng.random() < 0.8:
            event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        if rng.random() < 0.5:
            event["current_version"] = running
        else:
            event["release_info"] = {"current_version": running}
        if event_type == "update_checked":
            event["metadata"] = {"result": rng.choice(["available", "not_available"])}
        events.append(event)
    return events


def parse_start(event: Event) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def field(event: Event, name: str, group: str) -> Any:
    """A leaf value whether the event is in the flat or the nested form."""
    if name in event:
        return event[name]
    return (event.get(group) or {}).get(name)


def with_duplicates(events: list[Event], rng: random.Random, share: float = 0.1) -> list[Event]:
    """Append client retries: copies of events that carry an event_id."""
    candidates = [e for e in events if "event_id" in e]
    return events + [dict(e) for e in rng.sample(candidates, int(len(candidates) * share))]


def post_batches(base_url: str, events: list[Event], size: int = 200) -> int:
    accepted = 0
    for i in range(0, len(events), size):
        response = requests.post(f"{base_url}/events/batch", json=events[i : i + size], timeout=30)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["rejected"] == [], body["rejected"][:3]
        accepted += body["accepted"]
    return accepted


def place(event: Event, groups: dict[str, dict[str, Any]], flat: bool) -> None:
    """Put each non-empty group of fields on `event`: nested under its name, or flat at the top level."""
    for group, values in groups.items():
        if not values:
            continue
        if flat:
            event.update(values)
        else:
            event[group] = dict(values)
