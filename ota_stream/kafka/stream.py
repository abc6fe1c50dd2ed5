"""Faust's `Stream.take_events`, with batches cut by weight (events) instead of by message count.

An envelope carries up to a thousand events, a foreign message one: counting messages would let one batch hold
anything from BATCH_SIZE to a thousand times more events. `take_weighted` yields as soon as the messages taken
weigh BATCH_SIZE or more (one envelope at most over), or when `within` seconds pass.

This is Faust 0.15's `take_events` (streams.py) with `buffer_size() >= max_` replaced by the weight: the same
passive consumption through a processor, the same strict hand-over, and the same acks, made only after the
caller has finished with a batch, which is what makes a batch's offsets commit after its insert. The app's
`Stream` setting installs this class; re-check it when upgrading Faust (pyproject pins the minor version).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

import faust
from faust.types import EventT
from mode.utils.futures import notify


class WeightedStream(faust.Stream):
    async def take_weighted(
        self, max_weight: int, within: float, weight: Callable[[EventT], int]
    ) -> AsyncGenerator[list[EventT], None]:
        events: list[EventT] = []
        total = 0
        buffer_full = asyncio.Event()
        buffer_consumed = asyncio.Event()
        consuming: asyncio.Future[None] | None = None
        acks_were_enabled = self.enable_acks
        channel_it = aiter(self.channel)

        async def add_to_buffer(value: Any) -> Any:
            nonlocal consuming, total
            try:
                if consuming is not None:
                    try:
                        await consuming
                    finally:
                        consuming = None
                event = self.current_event
                if event is None:
                    raise RuntimeError("take_weighted found no current event")
                events.append(event)
                total += weight(event)
                if total >= max_weight:
                    buffer_full.set()
                    buffer_consumed.clear()
                    await self.wait(buffer_consumed)  # type: ignore[arg-type]  # mode types it as its own Event
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.exception("Error adding to take buffer: %r", exc)
                await self.crash(exc)
            return value

        self.enable_acks = False  # acked below, after the caller is done with a batch
        self.add_processor(add_to_buffer)
        self._enable_passive(channel_it)  # type: ignore[arg-type]  # Faust's own call takes its channel iterator
        try:
            while not self.should_stop:
                await self.wait_for_stopped(buffer_full, timeout=within)  # type: ignore[arg-type]
                if not events:
                    continue
                consuming = self.loop.create_future()
                try:
                    yield list(events)
                finally:
                    taken, total = list(events), 0
                    events.clear()
                    for event in taken:
                        await self.ack(event)
                    notify(consuming)
                    buffer_full.clear()
                    buffer_consumed.set()
        finally:
            self.enable_acks = acks_were_enabled
            self._processors.remove(add_to_buffer)
