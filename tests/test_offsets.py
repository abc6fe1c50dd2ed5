"""The offset bookkeeping as a whole: Faust's own drain loop (`Consumer._drain_messages`, which records gaps and
read offsets), our joined envelopes (kafka/coalesce.py), our acks (kafka/consumer.py) and Faust's commit choice
(`_filter_committable_offsets`), driven through any interleaving of fetches, acks, commits and rebalances on one
partition.

What must hold, whatever the interleaving:
- safety: the committed offset never passes an offset whose message was not processed (acked in the current
  generation: written, or dead-lettered, which acks the same way);
- liveness: once everything written has been fetched and processed and a commit ran, the committed offset is the
  first offset not yet written.
The broker is simulated (a list of records and a fetch position); everything else is the real code.
tests/test_envelopes.py and tests/test_stuck_commit.py show the same on a real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP, Message
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_stream.kafka import envelope
from ota_stream.kafka.coalesce import join_envelopes, parts_of
from tests.support.faust_app import consumer_app

SOURCE = TP("ota-events", 1)


def written(kinds: list[bool]) -> list[ConsumerRecord[Any, Any]]:
    """The partition's log: an envelope of ours where `kinds` says True, another producer's keyed event elsewhere."""
    records = []
    for offset, ours in enumerate(kinds):
        key, headers = (None, envelope.HEADERS) if ours else (b"k", [])
        value = envelope.pack([b"{}"]) if ours else b"{}"
        records.append(
            ConsumerRecord(
                SOURCE.topic, SOURCE.partition, offset, offset, 0, key, value, None, -1, len(value), headers
            )
        )
    return records


@dataclass
class Fetch:
    records: int  # how many records the broker hands over in this fetch (joined as the consumer thread does)


@dataclass
class Process:
    messages: int  # how many delivered messages the agent finishes (acks, in order): written or dead-lettered


@dataclass
class Commit:
    pass


@dataclass
class Rebalance:
    """The partition revoked and assigned again (Faust's eager rebalance), then sought to the committed offset."""


Step = Fetch | Process | Commit | Rebalance


@dataclass
class Partition:
    """One partition as the worker sees it: the broker's log and committed offset, the agent's unfinished messages."""

    app: faust.App
    log: list[ConsumerRecord[Any, Any]]
    position: int = 0  # the broker-side fetch position
    committed: int | None = None  # what the broker holds for the group
    delivered: list[Message] = field(default_factory=list)  # handed to the agent, not yet finished
    processed: set[int] = field(default_factory=set)  # offsets whose events were finished at least once

    @property
    def consumer(self) -> Any:
        return self.app.consumer

    def fetch(self, count: int) -> list[Message]:
        records = self.log[self.position : self.position + count]
        self.position += len(records)
        return [self.consumer._to_message(SOURCE, record) for record in join_envelopes(records)]

    def process(self, count: int) -> None:
        for message in self.delivered[:count]:
            if self.consumer.ack(message):
                parts = parts_of(message)
                self.processed.update(offset for offset, _ in parts or [(message.offset, 1)])
        del self.delivered[:count]

    def commit(self) -> None:
        """Faust's commit choice, and what a successful commit records (`Consumer._commit_offsets`)."""
        offsets = self.consumer._filter_committable_offsets({SOURCE})
        self.consumer._committed_offset.update(offsets)
        if SOURCE in offsets:
            self.committed = offsets[SOURCE]
            missing = [offset for offset in range(self.committed) if offset not in self.processed]
            assert not missing, f"committed {self.committed} past unprocessed offsets {missing}"

    def rebalance(self) -> None:
        consumer = self.consumer
        self.app.consumer_generation_id += 1
        self.process(len(self.delivered))  # messages still in the agent, now stale: released, never recorded
        for book in (consumer._gap, consumer._acked, consumer._acked_index, consumer._read_offset):
            book.pop(SOURCE, None)  # what Faust's on_partitions_revoked does
        consumer._committed_offset.pop(SOURCE, None)
        start = self.committed or 0
        consumer._committed_offset[SOURCE] = self.committed
        consumer._read_offset[SOURCE] = self.committed  # what Faust's perform_seek records
        self.position = start


async def drain(partition: Partition, steps: list[Step]) -> None:
    """Run Faust's drain loop over `steps`: each call of the consumer's `getmany` performs the next step."""
    consumer = partition.consumer
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    pending = list(steps)

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        if not pending:
            fetcher._stopped.set()
            return
        step = pending.pop(0)
        if isinstance(step, Fetch):
            for message in partition.fetch(step.records):
                yield SOURCE, message
        elif isinstance(step, Process):
            partition.process(step.messages)
        elif isinstance(step, Commit):
            partition.commit()
        else:
            partition.rebalance()

    async def on_message(message: Message) -> None:
        consumer.track_message(message)
        partition.delivered.append(message)

    consumer.getmany = getmany
    consumer.callback = on_message
    await consumer._drain_messages(fetcher)


def new_partition(kinds: list[bool]) -> Partition:
    app = consumer_app("offsets-unit", SOURCE.topic)
    app.consumer_generation_id = 1
    app.flow_control.resume()
    return Partition(app, written(kinds))


def everything(partition: Partition) -> list[Step]:
    """The rest of the log fetched and processed, then a commit."""
    return [Fetch(len(partition.log)), Process(len(partition.log)), Commit()]


async def test_a_lone_event_then_a_quiet_moment_then_a_burst_commits_to_the_end() -> None:
    """The stuck commit: the lone envelope at offset 0 is read and committed alone (Faust's read offset is then
    0, which its drain loop takes for "nothing read" and records no gap), then a burst arrives as joined runs."""
    partition = new_partition([True] * 40)
    await drain(partition, [Fetch(1), Process(1), Commit(), Fetch(20), Fetch(19), Process(2), Commit()])
    assert partition.committed == 40


steps = st.lists(
    st.one_of(
        st.builds(Fetch, st.integers(1, 12)),
        st.builds(Process, st.integers(1, 6)),
        st.just(Commit()),
        st.just(Rebalance()),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(kinds=st.lists(st.sampled_from([True, True, True, False]), min_size=1, max_size=40), script=steps)
def test_the_committed_offset_is_the_first_offset_not_yet_written(
    kinds: list[bool], script: list[Step]
) -> None:
    partition = new_partition(kinds)
    asyncio.run(drain(partition, [*script, *everything(partition)]))
    assert partition.committed == len(partition.log)


@pytest.mark.parametrize("foreign", [False, True])
async def test_a_rebalance_redelivers_from_the_commit_and_the_commit_still_reaches_the_end(
    foreign: bool,
) -> None:
    kinds = [True] * 10 + [not foreign] + [True] * 9
    partition = new_partition(kinds)
    await drain(partition, [Fetch(1), Process(1), Commit(), Fetch(12), Rebalance(), *everything(partition)])
    assert partition.committed == 20
