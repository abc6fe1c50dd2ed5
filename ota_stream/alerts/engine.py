"""Evaluation: every ALERT_EVALUATION_INTERVAL_SECONDS (at most 10 s), each worker reads, for every rule, the live
windows of the apps on the partitions it owns, and records state changes before anything is delivered.

A pass:
1. waits until the rules topic has been read to its end (a worker that has not would take every rule for deleted);
2. drops the state of rules that were deleted, with their pending notifications (counted as `dropped`);
3. for each rule, and each owned app it watches (apps with live windows, plus apps whose alert is firing), reads
   the metric (alerts/readings.py) and compares it with the alert's state: a breach of an alert that is not firing
   makes a `firing` notification, the end of a breach of a firing one makes a `resolved` notification. The new
   state, with the notification pending, is written to the table and its changelog (acked) first; only then is the
   notification handed to delivery (alerts/delivery.py);
4. wakes the delivery of every alert with pending notifications: after a restart or a rebalance, what the previous
   owner left pending is sent by the new one.

The decision to notify is therefore made once per state change, whichever worker owns the app, and survives
restarts and rebalances with the table. The evaluating worker is the one that owns the app's partition, so a
pass never waits on another worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from ota_stream import metrics
from ota_stream.alerts import notifications, readings
from ota_stream.alerts.delivery import Deliverer
from ota_stream.alerts.readings import Counts
from ota_stream.alerts.rules import AlertRule, RuleStore
from ota_stream.alerts.state import AlertStates, Key, State
from ota_stream.tables.live import LiveWindows

log = logging.getLogger(__name__)


class AlertEngine:
    def __init__(
        self,
        rules: RuleStore,
        live: LiveWindows,
        states: AlertStates,
        deliverer: Deliverer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self.live = live
        self.states = states
        self.deliverer = deliverer
        self.clock = clock

    async def tick(self) -> None:
        """One evaluation pass over the partitions this worker owns (nothing while it owns none). Never raises:
        a pass that fails (Kafka refused a state write) is logged, and the next pass decides again."""
        try:
            await self._tick()
        except Exception:
            log.exception("alert evaluation failed; the next pass retries")

    async def _tick(self) -> None:
        if not self.rules.caught_up.is_set() or not self.states.owned():
            return
        started = time.perf_counter()
        now = self.clock()
        existing = dict(self.states.owned_items())
        for key, state in existing.items():
            if key[0] not in self.rules.items:
                await self._forget(key, state)
        apps = {key[0] for key in self.live.table.data}  # the apps of the owned partitions' windows
        pass_ = _Pass(self.live, now)
        for rule in list(self.rules.items.values()):
            firing_apps = {app for rule_id, app in existing if rule_id == rule.rule_id}
            for app_key in sorted({app for app in apps if rule.covers(app)} | firing_apps):
                await self._evaluate(rule, app_key, existing.get((rule.rule_id, app_key)), pass_)
        pending = firing = 0
        for key, state in self.states.owned_items():
            firing += state["firing"]
            if state["pending"]:
                pending += len(state["pending"])
                self.deliverer.wake(key, state["partition"])
        metrics.ALERT_FIRING.set(firing)
        metrics.ALERT_PENDING.set(pending)
        metrics.ALERT_EVALUATIONS.inc()
        metrics.ALERT_EVALUATION_LATENCY.observe(time.perf_counter() - started)

    async def _forget(self, key: Key, state: State) -> None:
        if await self.states.update(key, state["partition"], lambda current: None):
            metrics.ALERT_DELIVERIES.labels("dropped").inc(len(state["pending"]))
            log.info("rule %s was deleted: its alert state for %s is dropped", key[0], key[1])

    async def _evaluate(self, rule: AlertRule, app_key: str, state: State | None, pass_: _Pass) -> None:
        reading = readings.read(rule, partial(pass_.counts, app_key), pass_.now, self.live.size)
        firing = bool(state and state["firing"])
        if readings.breached(rule, reading, firing) == firing:
            return
        partition = state["partition"] if state else pass_.partitions.get(app_key)
        if partition is None:
            return
        key = (rule.rule_id, app_key)
        kind = notifications.RESOLVED if firing else notifications.FIRING
        fired_at = state["fired_at"] if firing and state else notifications.iso(pass_.now)
        note = notifications.make(rule, app_key, kind, reading, fired_at, pass_.now)
        dropped: list[int] = []  # set when the change is made

        def change(current: State | None) -> State | None:
            if bool(current and current["firing"]) != firing:
                return current  # changed since it was read: the next pass decides again
            dropped.append(notifications.queued(current, note)[1])
            if current is not None and firing:
                return notifications.resolved(current, note)
            return notifications.fired(current, partition, note, fired_at)

        if not await self.states.update(key, partition, change) or not dropped:
            return
        metrics.ALERT_NOTIFICATIONS.labels(kind).inc()
        metrics.ALERT_DELIVERIES.labels("dropped").inc(dropped[0])
        log.info("alert %s %s: rule %s (%s) on %s, value %s, threshold %s",
                 note["id"], kind, rule.rule_id, rule.metric, app_key, reading.value, rule.threshold)  # fmt: skip
        self.deliverer.wake(key, partition)


class _Pass:
    """The live windows read during one pass, each read once however many rules look at it."""

    def __init__(self, live: LiveWindows, now: float) -> None:
        self.live = live
        self.now = now
        self.partitions: dict[str, int] = {}  # app key -> partition, from the windows read
        self._windows: dict[tuple[str, int], Counts | None] = {}

    def counts(self, app_key: str, start: int) -> Counts | None:
        key = (app_key, start)
        if key not in self._windows:
            window = self.live.table.data.get(key)
            self._windows[key] = window["counts"] if window is not None else None
            if window is not None:
                self.partitions[app_key] = window["partition"]
        return self._windows[key]
