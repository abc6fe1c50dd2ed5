"""Deliveries: each alert (or guard decision) with pending notifications gets a task that sends them in order,
retrying with backoff.

The notification is already durable in the alert state (changelog acked) before its first attempt. A task:
1. reads the oldest pending notification of its alert (stops when there is none, or when the partition is no
   longer this worker's);
2. POSTs its stored body, signed with the rule's secret, with its id in X-OTA-Notification-Id;
3. on a 2xx, removes it from the state (recording it as the alert's last delivery) and goes on with the next;
4. otherwise waits (exponential backoff with jitter, ALERT_DELIVERY_BACKOFF_*) and tries again, until an attempt
   fails ALERT_DELIVERY_GIVE_UP_SECONDS or more after the notification was made: then it is given up and removed.

Outcomes are counted in the counter given (`ota_alert_deliveries_total{outcome}` for alerts,
`ota_guard_deliveries_total{outcome}` for guard decisions). A worker killed between the receiver's 2xx and step 3
leaves the notification pending, and the partition's next owner sends it again with the same id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from mode import Service
from prometheus_client import Counter

from ota_stream.alerts import notifications
from ota_stream.alerts.state import AlertStates, Key
from ota_stream.alerts.webhooks import Target, WebhookClient
from ota_stream.config import AlertSettings
from ota_stream.retry import Backoff

log = logging.getLogger(__name__)


class Deliverer(Service):
    def __init__(
        self,
        settings: AlertSettings,
        states: AlertStates,
        target: Callable[[Key], Target | None],
        outcomes: Counter,
        what: str = "alert",
        **kwargs: Any,
    ) -> None:
        """`target`: the key's destination, None once its rule or guard is deleted; `outcomes`: the counter of
        delivery outcomes; `what` names the notifications in logs."""
        super().__init__(**kwargs)
        self.states = states
        self.target = target
        self.outcomes = outcomes
        self.what = what
        self.give_up_seconds = settings.delivery_give_up_seconds
        self.backoff = Backoff(
            settings.delivery_backoff_initial_seconds, settings.delivery_backoff_max_seconds
        )
        self.client = WebhookClient(settings.delivery_timeout_seconds, settings.webhook_allow_private)
        self._deliveries: dict[Key, asyncio.Future[Any]] = {}

    async def on_stop(self) -> None:
        await self.client.close()

    def wake(self, key: Key, partition: int) -> None:
        """Make sure the alert's pending notifications are being delivered (one task per alert, in order)."""
        task = self._deliveries.get(key)
        if task is None or task.done():
            self._deliveries[key] = self.add_future(self._drain(key, partition))

    @property
    def active(self) -> int:
        return sum(1 for task in self._deliveries.values() if not task.done())

    async def _drain(self, key: Key, partition: int) -> None:
        failures = 0  # failed attempts in a row: the backoff grows with them
        while not self.should_stop:
            try:
                outcome = await self._attempt(key, partition, failures)
            except Exception:  # Kafka or RocksDB refused a state write: the notification is still pending
                log.exception("%s delivery of %s for %s failed; retrying", self.what, key[0], key[1])
                outcome = False
            if outcome is None:
                return
            if outcome:
                failures = 0
                continue
            delay = self.backoff.delay(failures)
            failures += 1
            await self.sleep(delay)

    async def _attempt(self, key: Key, partition: int, failures: int) -> bool | None:
        """Try the oldest pending notification once: True when it is done with (delivered or given up), False
        to wait and try again, None when there is nothing (more) for this worker to deliver."""
        state = self.states.get(key, partition)
        if not state or not state["pending"]:
            return None
        target = self.target(key)
        if target is None:
            return None  # a deleted rule or guard: the evaluation drops its notifications
        note = state["pending"][0]
        problem = await self.client.post(target.url, target.secret, note["id"], note["body"].encode())
        host = urlsplit(target.url).netloc  # no path or query in logs: they may hold a receiver's token
        if problem is None:
            self.outcomes.labels("delivered").inc()
            log.info("%s %s delivered (%s, %s, %s)", self.what, note["id"], note["state"], target.owner, host)
            await self._done(key, partition, note["id"], time.time())
            return True
        if time.time() - note["created_at"] >= self.give_up_seconds:
            self.outcomes.labels("given_up").inc()
            log.warning("%s %s given up after %d attempts (%s, %s, %s): %s", self.what,
                        note["id"], failures + 1, note["state"], target.owner, host, problem)  # fmt: skip
            await self._done(key, partition, note["id"], None)
            return True
        self.outcomes.labels("retried").inc()
        log.info("%s %s not delivered (%s, %s): %s", self.what, note["id"], target.owner, host, problem)
        return False

    async def _done(self, key: Key, partition: int, notification_id: str, delivered_at: float | None) -> None:
        """Remove a delivered (or given up) notification from the state; the next owner resends it otherwise."""
        change = partial(notifications.without, notification_id=notification_id, delivered_at=delivered_at)
        await self.states.update(key, partition, change)
