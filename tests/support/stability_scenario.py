"""Launches and crashes for the stability tests: sessions of the release scenario's devices, and the odd cases.

Each device of an app launches its app about once a day over 40 days (some launches fall before the usual windows,
a few after now), running the releases of the release scenario in turn; a launch crashes with the odds of its
version. The cases the figures must get right are all here, drawn or written out:
- sessions without a session_id (a launch alone, a crash alone: a crash with no launch), events without an id;
- a crash reported twice in one session (in one hour or two), and two different crashes in one session;
- crashes without a current_version, in a session whose launch names one and in a session with no version at all;
- crashes with no launch, with and without a version; crashes an hour or more after their launch;
- launches with and without a duration, a duration of 0, flat and nested events;
- crash codes and messages missing (they read `unknown`), an empty message, more than 5 kinds per version;
- sessions whose two first events tie to the millisecond with two versions (the smaller event_id decides, a NUL
  byte in it included);
- one device id and session id in two tenants, and in two apps of one tenant (three sessions).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

from tests.support.release_scenario import Fleet
from tests.support.scenario import Event, place, rfc3339

VERSIONS = ["1.9.0", "2.0.0", "2.1.0", "2.2.0"]
CRASH_ODDS = {"1.9.0": 0.02, "2.0.0": 0.05, "2.1.0": 0.15, "2.2.0": 0.04}
CRASHES = [
    ("JS_FATAL", "TypeError: undefined is not an object"),
    ("JS_FATAL", "RangeError: Maximum call stack size exceeded"),
    ("NATIVE_CRASH", "SIGSEGV"),
    ("ABNORMAL_EXIT", None),
    (None, "out of memory"),
    (None, None),
    ("E_CLIENT_OWN", ""),
    ("NATIVE_CRASH", "EXC_BAD_ACCESS"),
]
SHARED_DEVICE, SHARED_SESSION, SHARED_VERSION = "shared-device", "s-shared", "3.0.0-shared"
# Two launches of one session at the same millisecond: event "tie-a" wins (the smaller event_id) though its version
# sorts after the other's, so that neither the version nor the order of arrival can pick it by chance.
TIE_SESSION, TIE_WINS, TIE_LOSES = "s-tie", "3.1.0-tie-z", "3.1.0-tie-y"
# The same with event ids "nul" and "nul" + NUL: the shorter sorts first, which a NUL byte must not upset.
NUL_WINS, NUL_LOSES = "3.2.0-nul-z", "3.2.0-nul-y"


@dataclass
class StabilityScenario(Fleet):
    """The release scenario's apps, and the first devices of each (their ids are the release scenario's)."""

    devices_per_app: int = 5
    seed: int = 17

    def build(self) -> list[Event]:
        rng = random.Random(self.seed)
        now = self.now or datetime.now(UTC)
        events: list[Event] = []
        for tenant, (org, app) in product(self.tenants, self.apps):
            upgrades = sorted(now - timedelta(days=rng.uniform(0, 36)) for _ in VERSIONS[1:])
            for n in range(self.devices_per_app):
                base = {
                    "tenant_id": tenant,
                    "org_id": org,
                    "app_id": app,
                    "device_id": f"{tenant}-{org}-{app}-r{n}",
                }
                events += self._device(rng, base, upgrades, now)
        return events + self._written_out(now)

    def _device(
        self, rng: random.Random, base: Event, upgrades: list[datetime], now: datetime
    ) -> list[Event]:
        events: list[Event] = []
        at = now - timedelta(days=40, hours=rng.uniform(0, 12))
        while at < now + timedelta(hours=3):
            version = VERSIONS[sum(1 for u in upgrades if u <= at)]
            session = f"s-{uuid.UUID(int=rng.getrandbits(128))}" if rng.random() < 0.9 else None
            launch = self._event(rng, base, "app_launched", at, session, version)
            if rng.random() < 0.85:
                launch["performance_metrics"] = {
                    "launch_duration_seconds": 0.0
                    if rng.random() < 0.05
                    else round(rng.lognormvariate(0.3, 0.6), 3)
                }
            events.append(launch)
            if rng.random() < CRASH_ODDS[version]:
                events += self._crashes(rng, base, at, session, version)
            if rng.random() < 0.03:  # a crash with no launch: found at a later start, or the launch was lost
                events += self._crashes(
                    rng, base, at + timedelta(minutes=2), f"c-{rng.getrandbits(32)}", version
                )
            at += timedelta(hours=rng.expovariate(1 / 20))
        for e in events:
            groups: dict[str, dict[str, Any]] = {
                g: e.pop(g) for g in ("release_info", "performance_metrics", "error_info") if g in e
            }
            place(e, groups, flat=rng.random() < 0.3)
        return events

    def _crashes(self, rng: random.Random, base: Event, launched: datetime, session: str | None,
                 version: str) -> list[Event]:  # fmt: skip
        at = launched + timedelta(minutes=rng.choice([1, 5, 30, 75]), milliseconds=rng.randint(0, 999))
        code, message = rng.choice(CRASHES)
        named = version if rng.random() < 0.7 else None  # a crash report without a current_version
        crash = self._event(rng, base, "app_crashed", at, session, named, code, message)
        crashes = [crash]
        if rng.random() < 0.15:  # reported twice: another event, the same crash, at once or an hour later
            again = at + timedelta(hours=rng.choice([0, 1]), minutes=1)
            crashes.append(
                {**crash, "event_id": str(uuid.UUID(int=rng.getrandbits(128))), "timestamp": rfc3339(again)}
            )
        if rng.random() < 0.1:  # a second, different crash of the same session
            other = rng.choice(CRASHES)
            crashes.append(
                self._event(rng, base, "app_crashed", at + timedelta(seconds=3), session, named, *other)
            )
        return crashes

    @staticmethod
    def _event(rng: random.Random, base: Event, event_type: str, at: datetime, session: str | None,
               version: str | None, code: str | None = None, message: str | None = None) -> Event:  # fmt: skip
        event: Event = {**base, "event_type": event_type, "timestamp": rfc3339(at)}
        if session is not None or rng.random() < 0.5:  # an event alone may come without an id
            event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        if session is not None:
            event["session_id"] = session
        if version is not None:
            event["release_info"] = {"current_version": version}
        error = {k: v for k, v in (("error_code", code), ("error_message", message)) if v is not None}
        if event_type == "app_crashed" and error:
            event["error_info"] = error
        return event

    def _written_out(self, now: datetime) -> list[Event]:
        """The ties, and one device and session id in two tenants and two apps."""
        at = rfc3339(now - timedelta(days=2, hours=3))
        tie = {"tenant_id": "acme", "org_id": "mobile", "app_id": "shop", "device_id": "acme-mobile-shop-r0",
               "event_type": "app_launched", "timestamp": at, "session_id": TIE_SESSION}  # fmt: skip
        events = [
            {**tie, "event_id": "tie-b", "release_info": {"current_version": TIE_LOSES}},
            {**tie, "event_id": "tie-a", "release_info": {"current_version": TIE_WINS}},
            {
                **tie,
                "event_id": "tie-c",
                "event_type": "app_crashed",
                "error_info": {"error_code": "JS_FATAL"},
            },
            {**tie, "app_id": "chat", "org_id": "web", "device_id": "acme-web-chat-r0", "session_id": "s-nul",
             "event_id": "nul\u0000", "release_info": {"current_version": NUL_LOSES}},
            {**tie, "app_id": "chat", "org_id": "web", "device_id": "acme-web-chat-r0", "session_id": "s-nul",
             "event_id": "nul", "release_info": {"current_version": NUL_WINS}},
        ]  # fmt: skip
        for n, (tenant, org, app) in enumerate([("acme", "mobile", "shop"), ("acme", "web", "chat"),
                                                ("globex", "mobile", "shop")]):  # fmt: skip
            shared = {"tenant_id": tenant, "org_id": org, "app_id": app, "device_id": SHARED_DEVICE,
                      "session_id": SHARED_SESSION, "release_info": {"current_version": SHARED_VERSION}}  # fmt: skip
            events.append(
                {**shared, "event_id": f"shared-{n}", "event_type": "app_launched", "timestamp": at}
            )
            if n != 1:
                events.append({**shared, "event_id": f"shared-crash-{n}", "event_type": "app_crashed",
                               "timestamp": rfc3339(now - timedelta(days=2, hours=1, minutes=50))})  # fmt: skip
        return events


def stability_events(now: datetime) -> list[Event]:
    return StabilityScenario(now=now).build()
