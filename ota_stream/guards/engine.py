"""Evaluation: every GUARD_EVALUATION_INTERVAL_SECONDS (at most 60 s), each worker evaluates the guards whose
partition it owns, and records each decision before anything is delivered.

A pass:
1. waits until the guards topic has been read to its end (a worker that has not would take every guard for
   deleted), and ClickHouse is open;
2. drops the decisions of guards that were deleted, with their pending deliveries (counted as `dropped`);
3. for each guard of an owned partition, finds the versions of its app whose first_seen (its earliest update
   event, as /analytics/releases; on the guard's channel when it names one) lies within its `watch_hours`, and
   for each one not yet decided asks the health gate with the guard's rules, over the window
   [now - watch_hours - 30 days, now] (so a baseline released before the watch still has its data);
4. when the verdict is `fail`, writes the decision to the table and its changelog (acked), then hands it to
   delivery (alerts/delivery.py, with the guard's secret); a version with an entry is never decided again;
5. wakes the delivery of every decision still pending: after a restart or a rebalance, what the previous owner
   left pending is sent by the new one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ota_stream import metrics
from ota_stream.alerts.delivery import Deliverer
from ota_stream.alerts.state import AlertStates, Key, State
from ota_stream.guards import decisions
from ota_stream.guards.rules import Guard, GuardStore
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.queries import release_health, releases
from ota_stream.storage.queries.scope import QueryScope

log = logging.getLogger(__name__)
BASELINE_LOOKBACK = timedelta(days=30)  # before the watch: where a guard's baseline may still be found


async def watched(ch: ClickHouse, guard: Guard, now: datetime) -> tuple[QueryScope, list[str]]:
    """The window the guard reads, and the versions it watches in it now."""
    since = now - timedelta(hours=guard.watch_hours)
    scope = QueryScope(guard.tenant_id, since - BASELINE_LOOKBACK, now, guard.org_id, guard.app_id)
    seen = await releases.first_updates(ch, scope)
    recent = sorted(v for v, first_ms in seen.items() if first_ms >= since.timestamp() * 1000)
    if guard.channel is not None and recent:
        on_channel = await releases.on_channel(ch, replace(scope, start=since), guard.channel, recent)
        recent = [v for v in recent if v in on_channel]
    return scope, recent


class GuardEngine:
    def __init__(
        self,
        guards: GuardStore,
        states: AlertStates,
        deliverer: Deliverer,
        storage: Callable[[], Awaitable[ClickHouse]],
        partitions: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.guards = guards
        self.states = states
        self.deliverer = deliverer
        self.storage = storage
        self.partitions = partitions
        self.clock = clock

    async def tick(self) -> None:
        """One evaluation pass over the guards of the partitions this worker owns. Never raises: a pass that fails
        (ClickHouse away, Kafka refused a state write) is logged, and the next pass decides again."""
        try:
            await self._tick()
        except Exception:
            log.exception("guard evaluation failed; the next pass retries")

    async def _tick(self) -> None:
        owned = self.states.owned()
        if not self.guards.caught_up.is_set() or not owned:
            return
        existing = dict(self.states.owned_items())
        for key, entry in existing.items():
            if key[0] not in self.guards.items:
                await self._forget(key, entry)
        ch = await self.storage()
        for guard in list(self.guards.items.values()):
            partition = guard.partition(self.partitions)
            if partition in owned:
                await self._evaluate(ch, guard, partition, existing)
        pending = 0
        for key, entry in self.states.owned_items():
            if entry["pending"]:
                pending += len(entry["pending"])
                self.deliverer.wake(key, entry["partition"])
        metrics.GUARD_PENDING.set(pending)
        metrics.GUARD_EVALUATIONS.inc()

    async def _forget(self, key: Key, entry: State) -> None:
        if await self.states.update(key, entry["partition"], lambda current: None):
            metrics.GUARD_DELIVERIES.labels("dropped").inc(len(entry["pending"]))
            log.info("guard %s was deleted: its decision for %s is dropped", key[0], key[1])

    async def _evaluate(
        self, ch: ClickHouse, guard: Guard, partition: int, existing: dict[Key, State]
    ) -> None:
        now = self.clock()
        scope, versions = await watched(ch, guard, datetime.fromtimestamp(now, UTC))
        for version in versions:
            key = (guard.guard_id, version)
            if key in existing:
                continue  # decided already: once per (guard, version)
            health = await release_health.health(ch, scope, version, guard.thresholds())
            if health["verdict"] != release_health.FAIL:
                continue
            entry = decisions.decide(guard, version, health, now, partition)
            if not await self._record(key, partition, entry):
                continue
            metrics.GUARD_DECISIONS.labels(str(guard.action)).inc()
            log.info("guard %s decided %s for %s %s: %s", guard.guard_id, guard.action, guard.app_key, version,
                     "; ".join(health["reasons"]))  # fmt: skip
            self.deliverer.wake(key, partition)

    async def _record(self, key: Key, partition: int, entry: State) -> bool:
        """Write a new decision, durably; False when the partition is not owned now or a decision exists."""
        made: list[State] = []

        def change(current: State | None) -> State | None:
            if current is not None:
                return current  # decided meanwhile
            made.append(entry)
            return entry

        return await self.states.update(key, partition, change) and bool(made)
