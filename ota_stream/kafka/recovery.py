"""After a rebalance, seek the stream partitions before they can deliver anything, not while they deliver.

The bug (issue 18; upstream faust-streaming #596, open): at the end of a rebalance Faust's
`Recovery.on_recovery_completed` (and `Recovery._resume_streams`, the path without tables) does, in this order:

1. `consumer.resume_partitions(stream partitions)`, while the flow is already active (recovery resumed it);
2. `await consumer.perform_seek()`: one OffsetFetch per partition, and our offset reset (consumer.py);
3. `app.flow_control.resume()`, which *clears every stream queue* (mode's `FlowControlEvent.resume`).

During 2 the Fetcher, running since an earlier generation, reads the stream partitions from aiokafka's old
positions and delivers those messages into the agent's queue, recording each as read. Step 3 then throws away what
is still queued, and the fetch that follows the seek drops everything below the read offset as already seen.
Those messages are never processed nor acked: commits stop at the first of them, and the lag never returns to
zero until the next rebalance or restart. A seek that takes a few hundred milliseconds (a busy machine) with a
backlog waiting is enough.

`OrderedRecovery` keeps Faust's steps but resumes the stream partitions last: seek while they are paused (they are
paused since the assignment), resume the flow, and only then let them be fetched, from the positions just sought.

A second loss in the same step 3: the changelog queue is a flow-controlled queue too, and by then the standby
partitions are already being fetched (recovery resumed them just before). Whatever standby changelog records the
Fetcher queued during the seek were cleared, unread, while the consumer's position moved past them; the next
records applied then carried the standby's persisted offset over the gap. A worker that later took the partition
over recovered from that offset and served windows without the lost records' updates (a rolling restart test
caught a window short by one event, about one run in ten). With tables, recovery has resumed the flow before it
gets here, so `OrderedRecovery` resumes (and clears) only a flow still suspended: the path without tables.

It overrides faust-streaming 0.15's two methods with copies that differ only in that order and that condition;
the app's `TableManager` setting installs it. Re-check them when upgrading Faust (pyproject pins 0.15).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Set
from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, ConsumerT


class OrderedRecovery(Recovery):
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
        if not await self._seek_then_resume(generation_id):
            return
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

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


class OrderedTableManager(TableManager):
    """Faust's table manager with `OrderedRecovery` (the app's `TableManager` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = OrderedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
