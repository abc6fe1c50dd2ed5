"""Realistic OTA events for benchmarks: tenants, apps and devices at fleet proportions, every event type.

The defaults match the pipeline benchmark: 5 tenants, 30 apps, 27,000 devices, the nine lifecycle types, nested
form, unique ids, about 470 bytes each, timestamps over the last 48 hours.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

PROFILES = [("iOS", "17.5", "iPhone 15", "Apple"), ("Android", "14", "Pixel 8", "Google"),
            ("Android", "13", "Galaxy S23", "Samsung"), ("iOS", "16.7", "iPhone 12", "Apple")]  # fmt: skip
ERRORS = [("E_NETWORK_TIMEOUT", "download"), ("E_CHECKSUM_MISMATCH", "verify"), ("E_DISK_FULL", "install"),
          ("E_BUNDLE_CRASH", "launch")]  # fmt: skip


def lifecycles(
    count: int, tenants: int = 5, apps: int = 30, devices: int = 27_000, hours: int = 48, seed: int = 1
) -> Iterator[list[dict[str, Any]]]:
    """Lists of events, one device's update at a time, until `count` events have been made."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    made = 0
    while made < count:
        n = rng.randrange(devices)
        app = n % apps
        tenant, device = f"tenant{app % tenants}", f"device-{n}"
        os_name, os_version, model, manufacturer = PROFILES[n % len(PROFILES)]
        current, target = f"1.{n % 7}.0", f"1.{n % 7 + 1}.0"
        start = now - timedelta(seconds=rng.uniform(60, hours * 3600))
        steps = ["update_started", "update_downloading", "update_downloaded", "update_installing"]
        outcome = rng.choices(["update_installed", "update_failed", "update_cancelled"], [0.88, 0.08, 0.04])[
            0
        ]
        steps.append(outcome)
        if outcome == "update_installed" and rng.random() < 0.05:
            steps += ["rollback_started", "rollback_completed"]
        events = []
        for i, step in enumerate(steps[: count - made]):
            event: dict[str, Any] = {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "tenant_id": tenant, "org_id": "mobile", "app_id": f"app{app}", "device_id": device,
                "event_type": step, "timestamp": (start + timedelta(seconds=5 * i)).isoformat(),
                "session_id": f"s-{n}-{made}",
                "device_info": {"os": os_name, "os_version": os_version, "model": model, "manufacturer": manufacturer},
                "release_info": {"current_version": current, "target_version": target, "channel": "production",
                                 "rollout_percentage": 50},
                "network_info": {"connection_type": rng.choice(["wifi", "cellular"])},
            }  # fmt: skip
            if step == "update_downloaded":
                event["performance_metrics"] = {
                    "download_speed_mbps": round(rng.lognormvariate(2.5, 0.6), 2),
                    "download_duration_seconds": round(rng.uniform(1, 30), 2),
                    "package_size_bytes": rng.randint(2, 40) * 1_000_000,
                }
            elif step == "update_installed":
                event["performance_metrics"] = {"install_duration_seconds": round(rng.uniform(0.5, 20), 2)}
            elif step == "update_failed":
                code, stage = rng.choice(ERRORS)
                event["error_info"] = {
                    "error_code": code,
                    "error_message": code.lower(),
                    "failure_stage": stage,
                }
            elif step == "update_cancelled":
                event["cancellation_reason"] = "user_dismissed"
            elif step == "rollback_completed":
                event["rollback_reason"] = "crash_on_launch"
                event["rollback_duration_seconds"] = round(rng.uniform(0.5, 5), 2)
            events.append(event)
        made += len(events)
        yield events
