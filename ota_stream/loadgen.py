"""`ota-stream loadgen`: realistic OTA traffic for demos and load tests.

Each app rolls out new versions over time; devices pick up the newest version, go through the lifecycle
(started, downloading, downloaded, installing) and end installed, failed (with an error code and stage) or
cancelled; some installs are rolled back. Traffic goes over HTTP (`/events/batch`) or straight to Kafka.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from tqdm import tqdm

from ota_stream import wire
from ota_stream.config import KafkaSettings, PipelineSettings
from ota_stream.kafka.producer import EventPublisher
from ota_stream.models import TimeWindow, parse_event

Event = dict[str, Any]
ERRORS = [
    ("E_NETWORK_TIMEOUT", "download"),
    ("E_CHECKSUM_MISMATCH", "verify"),
    ("E_DISK_FULL", "install"),
    ("E_BUNDLE_CRASH", "launch"),
]
DEVICES = [("iOS", "17.5", "iPhone 15", "Apple"), ("Android", "14", "Pixel 8", "Google"),
           ("Android", "13", "Galaxy S23", "Samsung")]  # fmt: skip


@dataclass
class Device:
    tenant: str
    org: str
    app: str
    device_id: str
    profile: tuple[str, str, str, str]
    version: str = "1.0.0"


@dataclass
class Fleet:
    """Devices of several apps; each app has a newest version that moves on as the run goes."""

    tenants: int = 2
    apps: int = 4
    devices: int = 1000
    seed: int = 1
    rng: random.Random = field(init=False)
    fleet: list[Device] = field(init=False)
    newest: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.newest = {}
        self.fleet = []
        for n in range(self.devices):
            tenant = f"tenant{n % self.tenants}"
            app = f"app{n % self.apps}"
            self.newest[app] = 1
            profile = self.rng.choice(DEVICES)
            self.fleet.append(Device(tenant, "mobile", app, f"device-{n}", profile))

    def lifecycles(self) -> Iterator[list[Event]]:
        while True:
            if self.rng.random() < 0.001:  # a new release of some app
                app = self.rng.choice(list(self.newest))
                self.newest[app] += 1
            yield self._lifecycle(self.rng.choice(self.fleet))

    def _lifecycle(self, device: Device) -> list[Event]:
        target = f"1.{self.newest[device.app]}.0"
        now = datetime.now(UTC)
        steps = ["update_started", "update_downloading", "update_downloaded", "update_installing"]
        outcome = self.rng.choices(
            ["update_installed", "update_failed", "update_cancelled"], [0.9, 0.07, 0.03]
        )[0]
        steps.append(outcome)
        if outcome == "update_installed" and self.rng.random() < 0.03:
            steps += ["rollback_started", "rollback_completed"]
        events = [
            self._event(device, step, target, now + timedelta(milliseconds=50 * i))
            for i, step in enumerate(steps)
        ]
        if outcome == "update_installed" and "rollback_completed" not in steps:
            device.version = target
        return events

    def _event(self, device: Device, event_type: str, target: str, ts: datetime) -> Event:
        os_name, os_version, model, manufacturer = device.profile
        event: Event = {
            "event_id": str(uuid.uuid4()),
            "tenant_id": device.tenant,
            "org_id": device.org,
            "app_id": device.app,
            "device_id": device.device_id,
            "event_type": event_type,
            "timestamp": ts.isoformat(),
            "device_info": {
                "os": os_name,
                "os_version": os_version,
                "model": model,
                "manufacturer": manufacturer,
            },
            "release_info": {
                "current_version": device.version,
                "target_version": target,
                "channel": "production",
            },
            "network_info": {"connection_type": self.rng.choice(["wifi", "cellular"])},
        }
        if event_type == "update_downloaded":
            event["performance_metrics"] = {
                "download_speed_mbps": round(self.rng.lognormvariate(2.5, 0.6), 2),
                "download_duration_seconds": round(self.rng.uniform(1, 30), 2),
                "package_size_bytes": self.rng.randint(2, 40) * 1_000_000,
            }
        elif event_type == "update_installed":
            event["performance_metrics"] = {"install_duration_seconds": round(self.rng.uniform(0.5, 20), 2)}
        elif event_type == "update_failed":
            code, stage = self.rng.choice(ERRORS)
            event["error_info"] = {"error_code": code, "error_message": code.lower(), "failure_stage": stage}
        elif event_type == "update_cancelled":
            event["cancellation_reason"] = "user_dismissed"
        elif event_type == "rollback_completed":
            event["release_info"]["current_version"] = device.version
            event["rollback_duration_seconds"] = round(self.rng.uniform(0.5, 5), 2)
        return event


@dataclass
class Summary:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed_requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


class HttpSink:
    """POST /events/batch. With an ingest `key` the events go without `tenant_id`: the key supplies it."""

    def __init__(self, url: str, key: str | None = None) -> None:
        self.url = url.rstrip("/") + "/events/batch"
        self.key = key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.session = aiohttp.ClientSession(headers=headers)

    async def send(self, batch: list[Event], summary: Summary) -> None:
        if self.key:
            batch = [{k: v for k, v in event.items() if k != "tenant_id"} for event in batch]
        try:
            async with self.session.post(self.url, json=batch) as response:
                summary.statuses[response.status] += 1
                if response.status == 202:
                    body = await response.json()
                    summary.accepted += body["accepted"]
                    summary.rejected += len(body["rejected"])
                else:
                    summary.failed_requests += 1
        except aiohttp.ClientError:
            summary.failed_requests += 1

    async def close(self) -> None:
        await self.session.close()


class KafkaSink:
    """Straight to Kafka, through the ingest's own producer: the same envelopes that POST /events writes."""

    def __init__(self, brokers: str, topic: str) -> None:
        self.publisher = EventPublisher(KafkaSettings(brokers=brokers, topic=topic))
        self.window = TimeWindow(PipelineSettings().retention_days)

    async def start(self) -> None:
        await self.publisher.start()
        while not self.publisher.ready:
            await asyncio.sleep(0.05)

    async def send(self, batch: list[Event], summary: Summary) -> None:
        events = [wire.accept_model(parse_event(data, self.window.bounds())) for data in batch]
        await self.publisher.publish([(event.key, event.line) for event in events])
        summary.accepted += len(batch)

    async def close(self) -> None:
        await self.publisher.stop()


async def run(sink: HttpSink | KafkaSink, fleet: Fleet, total: int, rate: float, batch_size: int) -> Summary:
    summary = Summary()
    pending: list[Event] = []
    started = time.monotonic()
    with tqdm(total=total, unit="ev", smoothing=0.1) as bar:
        lifecycles = fleet.lifecycles()
        while summary.sent < total:
            while len(pending) < batch_size:
                pending.extend(next(lifecycles))
            batch, pending = pending[: min(batch_size, total - summary.sent)], pending[batch_size:]
            if rate > 0:  # pace: the n-th event is due at n / rate seconds
                await asyncio.sleep(max(0.0, summary.sent / rate - (time.monotonic() - started)))
            await sink.send(batch, summary)
            summary.sent += len(batch)
            bar.update(len(batch))
    return summary
