"""Faust's table recovery with three losses mended: stream messages, standby records, and stale local copies.

1. Stream messages (issue 18; upstream faust-streaming #596, open). At the end of a rebalance Faust's
`Recovery.on_recovery_completed` (and `Recovery._resume_streams`, the path without tables) resumes the stream
partitions while the flow is already active, then awaits `consumer.perform_seek()` (one OffsetFetch per partition,
and our offset reset, consumer.py), then calls `app.flow_control.resume()`, which clears every flow-controlled
queue (mode's `FlowControlEvent.resume`). During the seek the Fetcher reads the stream partitions from aiokafka's
old positions into the agent's queue, recording each message as read; the clear throws away what is still queued,
and the fetch after the seek drops everything below the read offset as already seen. Never processed nor acked,
those messages stop the commits until the next rebalance. `OrderedRecovery` seeks while the stream partitions are
still paused (they are since the assignment) and lets them be fetched only after the seek.

2. Standby records. The changelog queue is flow-controlled too, and when that last resume ran, the standby
partitions were already being fetched (recovery resumed them just before). Standby records queued during the
seek were cleared unread, the consumer's position moved past them, and the next records applied carried the
standby's persisted offset over the gap. With tables, recovery has always resumed the flow before it gets there,
so `OrderedRecovery` resumes (and clears) only a flow that is still suspended: the path without tables.

3. Stale copies. A changelog partition that this process did not hold active in the generation before is read
from its start, not from the offset its local copy (a standby's, or the database a restarted process finds on
disk) says it has applied. Those copies fall short of a former owner's updates by paths in Faust's standby
reading that are not all found: 2 left such copies short (a rolling restart test served a window short of events
about one run in ten); after 2 was mended the same test still caught, about one run in twelve, a takeover by a
standby of the same process short; and after that was mended, a restarted process that trusted the standby copy
it had written to disk before its restart took over a partition short of events between its persisted offset and
the previous owner's last updates (the test failed about one run in two on a loaded machine; the copies read
back after the run showed the missing events, all before the copy's offset). The compacted changelog holds the
latest window per key, so one pass restores the copy; a partition this process kept active across the rebalance
is its own writing and is trusted. What this costs is one pass per takeover over the partition's changelog,
which the live table keeps short (segment.ms, tables/live.py). Reading every partition from its start once sent
restarts through the recovery path that starts the Fetcher before the seek, where a restarted worker's backlog
could be fetched and dropped between the seek and the resume of the stream partitions (a stall; mended in
kafka/consumer.py, `SafeConsumer._wait_next_records`).

These override faust-streaming 0.15's methods with copies that differ only as described; the app's
`TableManager` setting installs them. Re-check them when upgrading Faust (pyproject pins 0.15).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Set
from typing import Any
from weakref import WeakKeyDictionary

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, ConsumerT

from ota_stream.kafka import changelog_audit


class OrderedRecovery(Recovery):
    taken_over: Set[TP] = frozenset()  # changelog partitions active now and not in the generation before

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        """Faust's, then: a changelog partition that this process did not hold active before is read from its
        start (3 above)."""
        held = set(self.active_tps)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        self.taken_over = set(self.active_tps - held)
        for tp in self.taken_over:
            self.active_offsets[tp] = -1

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            )
            for table in self.tables.values()
        ]
        if callbacks:
            await asyncio.wait(callbacks)
        await self._audit_taken_over()
        if not await self._seek_then_resume(generation_id):
            return
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _audit_taken_over(self) -> None:
        """Check each changelog partition taken over against the changelog itself (kafka/changelog_audit.py)."""
        options = CHANGELOG_CLIENTS.get(self.app)
        if options is None:
            return
        for table in self.tables.values():
            taken = self.actives_for_table[table] & self.taken_over
            if taken:
                await changelog_audit.audit(options, table, taken)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        await self.app.on_rebalance_complete.send()
        if not await self._seek_then_resume(generation_id):
            return
        self.tables.on_actives_ready()
        self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _seek_then_resume(self, generation_id: int) -> bool:
        """Seek the stream partitions, resume the flow, then let the partitions be fetched.

        False when a newer generation started meanwhile (Faust's own check, at the same point)."""
        app: Any = self.app
        consumer = app.consumer
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning(
                f"Recovery rebalancing again app id {app.consumer_generation_id} param {generation_id}"
            )
            return False
        streams = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        consumer.pause_partitions(streams)  # paused since the assignment already: nothing is fetched for them
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        if not app.flow_control.is_active():  # suspended since the revocation: the path without tables
            app.flow_control.resume()  # clears the queues; with tables this would drop fetched standby records
        consumer.resume_flow()
        consumer.resume_partitions(streams)  # fetched from the positions just sought
        await app._fetcher.maybe_start()
        return True

    async def _seek_offsets(
        self, consumer: ConsumerT, tps: Set[TP], offsets: Counter[TP], title: str
    ) -> None:
        """Faust's, with every negative offset read as the changelog's start, not only -1. Two rebalances in quick
        succession (a rolling restart) left offsets below -1 here, and aiokafka's seek raised "Offset must be a
        positive integer", which crashed the worker; reading a changelog partition from its start only rebuilds
        the state it holds. An offset Faust has not learned yet (None, seen once in the same case) is read so too."""
        await consumer.seek_wait({tp: max(offsets[tp] or 0, 0) for tp in tps})


# The aiokafka client options each app's changelog audit connects with (set by `install`).
CHANGELOG_CLIENTS: WeakKeyDictionary[Any, Mapping[str, Any]] = WeakKeyDictionary()


def install(app: Any, client_options: Mapping[str, Any]) -> None:
    """Let `app`'s recovery audit the partitions it takes over, connecting with `client_options`."""
    CHANGELOG_CLIENTS[app] = client_options


class OrderedTableManager(TableManager):
    """Faust's table manager with `OrderedRecovery` (the app's `TableManager` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = OrderedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
