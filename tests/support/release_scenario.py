"""Release rollouts for the release tests (docs/api.md#get-analyticsreleases): channels, staged rollout
percentages, failures, rollbacks, re-installs.

Each device of an app walks through the app's releases; each attempt follows one of PATTERNS. The odd cases
that the release figures must get right are all here: a device that fails then succeeds, one that rolls back and
re-installs, a rollback right after installing another version, an install without a target_version between an
install and a rollback, an install and a rollback in the same millisecond, a beta release seen only through the
beta channel, rollout percentages on the first event only or on every event, and events before, inside and
after the usual windows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

from tests.support.scenario import Event, place, rfc3339

STEPS = {
    "ok": [
        "update_started",
        "update_downloading",
        "update_downloaded",
        "update_installing",
        "update_installed",
    ],
    "fail": ["update_started", "update_downloading", "update_failed"],
    "fail_then_ok": ["update_started", "update_failed", "update_started", "update_installed"],
    "rollback": ["update_started", "update_installed", "rollback_started", "rollback_completed"],
    "rollback_reinstall": ["update_started", "update_installed", "rollback_completed", "update_installed"],
    "rollback_same_ms": ["update_started", "update_installed", "rollback_completed"],
    "cancel": ["update_started", "update_cancelled"],
    "installed_unknown_then_rollback": ["update_installed", "update_installed", "rollback_completed"],
}
PATTERNS = list(STEPS)
WEIGHTS = [50, 8, 6, 6, 4, 2, 4, 2]
ROLLOUTS = [10, 12.5, 50, 100]


@dataclass
class Fleet:
    """The tenants and apps of a scenario (two tenants with the same app names), and its devices per app."""

    tenants: tuple[str, ...] = ("acme", "globex")
    apps: tuple[tuple[str, str], ...] = (("mobile", "shop"), ("mobile", "chat"), ("web", "chat"))
    devices_per_app: int = 14
    seed: int = 13
    now: datetime | None = None


@dataclass
class ReleaseScenario(Fleet):
    def build(self) -> list[Event]:
        rng = random.Random(self.seed)
        now = self.now or datetime.now(UTC)
        events: list[Event] = []
        for tenant, (org, app) in product(self.tenants, self.apps):
            releases = self._releases(rng, now)
            for n in range(self.devices_per_app):
                events += self._device(rng, tenant, org, app, f"{tenant}-{org}-{app}-r{n}", releases, now)
        return events

    def _releases(self, rng: random.Random, now: datetime) -> list[tuple[str, str | None, datetime]]:
        """(version, the only channel it ships on or None, release time); one a few hours in the future."""
        return [
            ("2.0.0", None, now - timedelta(days=35, hours=rng.uniform(0, 24))),
            ("2.1.0", None, now - timedelta(days=12, hours=rng.uniform(0, 24))),
            ("2.2.0-beta", "beta", now - timedelta(days=4, hours=rng.uniform(0, 24))),
            ("2.2.0", None, now - timedelta(hours=rng.uniform(10, 30))),
            ("2.3.0", None, now + timedelta(hours=rng.uniform(1, 5))),
        ]

    def _device(
        self,
        rng: random.Random,
        tenant: str,
        org: str,
        app: str,
        device: str,
        releases: list[tuple[str, str | None, datetime]],
        now: datetime,
    ) -> list[Event]:
        base = {"tenant_id": tenant, "org_id": org, "app_id": app, "device_id": device}
        info = {"os": rng.choice(["iOS", "Android"]), "model": "M"} if rng.random() < 0.9 else {}
        channel = rng.choice(["production", "production", "beta"]) if rng.random() < 0.85 else None
        current, events = "1.9.0", list[Event]()
        for version, only_channel, released in releases:
            if only_channel is not None and channel != only_channel:
                continue
            if rng.random() < 0.15:
                continue  # this device skips this release
            start = released + timedelta(hours=rng.expovariate(1 / 20))
            if start > now + timedelta(hours=20):
                continue  # ingest refuses events over 24 h ahead
            pattern = rng.choices(PATTERNS, WEIGHTS)[0]
            rollout = rng.choice(ROLLOUTS)
            rollout_everywhere = rng.random() < 0.3
            for i, event_type in enumerate(STEPS[pattern]):
                at = start + timedelta(minutes=7 * i, milliseconds=rng.randint(0, 999))
                if pattern == "rollback_same_ms" and event_type == "rollback_completed":
                    at = datetime.fromisoformat(events[-1]["timestamp"].replace("Z", "+00:00"))
                event: Event = {**base, "event_type": event_type, "timestamp": rfc3339(at)}
                if rng.random() < 0.85:
                    event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
                release: dict[str, Any] = {"current_version": current, "target_version": version}
                if pattern == "installed_unknown_then_rollback" and i == 1:
                    release = {"current_version": version}  # an install of a version the client did not name
                if channel is not None:
                    release["channel"] = channel
                if i == 0 or rollout_everywhere:
                    release["rollout_percentage"] = rollout
                groups: dict[str, dict[str, Any]] = {"release_info": release, "device_info": info}
                if event_type == "update_installed" and rng.random() < 0.85:
                    groups["performance_metrics"] = {
                        "install_duration_seconds": round(rng.uniform(0.5, 90), 3)
                    }
                if event_type == "update_failed":
                    code = rng.choice(["E_NETWORK", "E_DISK_FULL", "E_CHECKSUM", None])
                    message = rng.choice(["download aborted", "no space left", "checksum mismatch", None])
                    error = {"error_code": code, "error_message": message, "failure_stage": "install"}
                    groups["error_info"] = {k: v for k, v in error.items() if v is not None}
                place(event, groups, flat=rng.random() < 0.4)
                events.append(event)
            if pattern in ("ok", "fail_then_ok", "rollback_reinstall"):
                current = version
        return events


def with_every_field(events: list[Event], rng: random.Random, share: float = 0.25) -> list[Event]:
    """Give every event an event_id, and a share of them every optional field (docs/events.md#fields) (nested
    form), with values
    that are awkward to store: a float32-inexact percentage, a huge byte count, Unicode, commas and quotes."""
    out = []
    for i, e in enumerate(events):
        e = dict(e)
        e.setdefault("event_id", f"{e['tenant_id']}-gen-{i:06d}")
        if rng.random() < share and "current_version" not in e:  # nested events only (both scenarios' flat
            # events name their current_version at the top level)
            e["session_id"] = f"s-{rng.randrange(10**6)}"
            e["device_info"] = {
                **e.get("device_info", {}),
                "os_version": "17.1",
                "manufacturer": 'Ärger, "Inc"',
            }
            e["release_info"] = {**e.get("release_info", {}), "release_notes": "fixes:\n- a, b\n- \"c\"",
                                 "rollout_percentage": 12.3}  # fmt: skip
            e["network_info"] = {"connection_type": "wifi", "bandwidth_mbps": 54.25}
            perf = {"battery_level": 77.7, "storage_available_mb": 1024.5, "package_size_bytes": 2**53 + 1}
            e["performance_metrics"] = {**e.get("performance_metrics", {}), **perf}
            e["progress"] = 42.5
            e["rollback_reason"] = "crash loop"
            e["rollback_duration_seconds"] = 3.25
            e["cancellation_reason"] = 'user, said "no"'
            e["metadata"] = {"build": "1234", "note": "héllo, wörld"}
        out.append(e)
    return out
