"""Written-out cases of the release decisions, in a tenant of their own (`umbrella`, app mobile/shop), so that each
answer can be read off by hand:
- 4.0.0 runs before anything updates to it (sessions only, from NOW - 5 days): the previous version of 5.0.0;
- 5.0.0 first seen at NOW - 3 days: its devices' channels switch (beta, then production: production), tie at one
  millisecond (alpha and beta: beta), are missing on later events (production stays) or on every event (unknown);
- device os: two segments with the very same counts (a tie for the worst, broken by the key);
- sessions: 30 of 4.0.0 without a crash, 30 of 5.0.0 of which 15 crash (a significant difference), and 4.0.0
  sessions that start after 4.0.0's first 24 hours (outside its side);
- a session of 6.0.0-x that spans two hours, whose second hour names 6.1.0-w (a crash reported with another
  version): that row is 6.1.0-w's earliest, but the session is 6.0.0-x's; 6.1.0-w's first session starts 5 hours
  later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.support.scenario import Event, rfc3339

TENANT, ORG, APP = "umbrella", "mobile", "shop"
OLD, NEW = "4.0.0", "5.0.0"
SPANNING, LATER = "6.0.0-x", "6.1.0-w"
# device -> [(minutes after 5.0.0's first_seen, event type, channel, os)]
UPDATES: dict[str, list[tuple[int, str, str | None, str | None]]] = {
    "u-switch": [(0, "update_started", "beta", "iOS"), (5, "update_installed", "production", "iOS")],
    "u-tie": [(10, "update_started", "alpha", "iOS"), (10, "update_failed", "beta", "iOS")],
    "u-later-missing": [
        (20, "update_started", "production", "Android"),
        (25, "update_installed", None, None),
    ],
    "u-none": [(30, "update_started", None, "Android"), (35, "update_failed", None, "Android")],
}


def _event(device: str, event_type: str, at: datetime, **release: Any) -> Event:
    return {
        "tenant_id": TENANT,
        "org_id": ORG,
        "app_id": APP,
        "device_id": device,
        "event_type": event_type,
        "timestamp": rfc3339(at),
        "release_info": {k: v for k, v in release.items() if v is not None},
    }


def decision_events(now: datetime) -> list[Event]:
    first = now - timedelta(days=3)
    events = []
    for device, steps in UPDATES.items():
        for minutes, event_type, channel, os in steps:
            event = _event(device, event_type, first + timedelta(minutes=minutes), current_version=OLD,
                           target_version=NEW, channel=channel)  # fmt: skip
            if os is not None:
                event["device_info"] = {"os": os}
            events.append(event)
    old_start = now - timedelta(days=5)
    for n in range(30):
        device = f"u-run-{n % 10}"
        events.append({**_event(device, "app_launched", old_start + timedelta(minutes=n), current_version=OLD),
                       "session_id": f"old-{n}"})  # fmt: skip
        late = _event(device, "app_launched", old_start + timedelta(hours=30, minutes=n), current_version=OLD)
        events.append({**late, "session_id": f"old-late-{n}"})
        at = first + timedelta(hours=1, minutes=n)
        events.append({**_event(device, "app_launched", at, current_version=NEW), "session_id": f"new-{n}"})
        if n % 2:
            crash = _event(device, "app_crashed", at + timedelta(seconds=30), current_version=NEW)
            events.append({**crash, "session_id": f"new-{n}", "error_info": {"error_code": "JS_FATAL"}})
    span = now.replace(minute=55, second=0, microsecond=0) - timedelta(days=2)
    events.append({**_event("u-span", "app_launched", span, current_version=SPANNING), "session_id": "span"})
    crash = _event("u-span", "app_crashed", span + timedelta(minutes=10), current_version=LATER)
    events.append({**crash, "session_id": "span", "error_info": {"error_code": "JS_FATAL"}})
    later = _event("u-span", "app_launched", span + timedelta(hours=5), current_version=LATER)
    events.append({**later, "session_id": "later"})
    return events
