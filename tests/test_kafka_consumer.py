"""The guards of kafka/consumer.py and kafka/recovery.py, on Faust's own objects (no broker needed: an ack and
the wiring are local). tests/test_faults.py and tests/test_live.py show them on real workers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import ConsumerRecord
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, Message

from ota_stream.kafka import consumer as kafka_consumer
from ota_stream.kafka.recovery import OrderedRecovery
from tests.support.faust_app import consumer_app

SOURCE = TP("ota-events", 0)


@pytest.fixture
def app() -> Iterator[faust.App]:
    yield consumer_app("consumer-unit", SOURCE.topic)


def message(offset: int, generation_id: int) -> Message:
    return Message(
        SOURCE.topic, SOURCE.partition, offset, 0.0, 0, {}, b"k", b"v", None, generation_id=generation_id
    )


def test_the_app_consumes_through_the_guarded_consumer_and_ordered_recovery(app: faust.App) -> None:
    assert isinstance(app.consumer, kafka_consumer.SafeConsumer)
    assert isinstance(app.consumer._thread, kafka_consumer.SafeConsumerThread)
    assert isinstance(app.tables.recovery, OrderedRecovery)  # type: ignore[attr-defined]


def test_a_message_of_a_stale_generation_is_released_but_never_committed(app: faust.App) -> None:
    consumer = app.consumer
    app.consumer_generation_id = 7
    app.flow_control.resume()
    stale, current = message(10, generation_id=6), message(11, generation_id=7)
    for each in (stale, current):
        consumer.track_message(each)

    assert consumer.ack(stale) is False
    assert stale.acked and stale not in consumer._unacked_messages  # type: ignore[attr-defined]
    assert 10 not in consumer._acked[SOURCE]  # type: ignore[attr-defined]  # no commit can move past it

    assert consumer.ack(current) is True  # Faust's own ack: recorded for the next commit
    assert 11 in consumer._acked[SOURCE]  # type: ignore[attr-defined]


def test_a_message_acked_while_a_rebalance_pauses_the_flow_is_not_recorded(app: faust.App) -> None:
    consumer = app.consumer
    app.consumer_generation_id = 3
    app.flow_control.suspend()
    paused = message(5, generation_id=3)
    consumer.track_message(paused)
    assert consumer.ack(paused) is False
    assert paused.acked and 5 not in consumer._acked.get(SOURCE, [])  # type: ignore[attr-defined]


async def test_the_livelock_check_skips_a_partition_waiting_for_its_offset_reset(app: faust.App) -> None:
    """A fresh partition sent to its beginning has no position until aiokafka's reset: Faust's own check asserts on
    it (and crashed a worker); ours skips it until it has one."""
    subscriptions = SubscriptionState()
    subscriptions.subscribe({SOURCE.topic})
    subscriptions.assign_from_subscribed({TopicPartition(SOURCE.topic, SOURCE.partition)})
    state = subscriptions.subscription.assignment.state_value(TopicPartition(SOURCE.topic, SOURCE.partition))
    state.highwater, state.timestamp = 10, time.time() * 1000  # fetched from moments ago
    state.await_reset(0)
    thread = app.consumer._thread  # type: ignore[attr-defined]
    thread._consumer = SimpleNamespace(_fetcher=SimpleNamespace(_subscriptions=subscriptions, _records={}))
    now = time.monotonic()
    thread.time_started = now - 1  # what starting the thread sets
    with pytest.raises(AssertionError):
        AIOKafkaConsumerThread.verify_event_path(thread, now, SOURCE)
    assert thread.verify_event_path(now, SOURCE) is None

    state.reset_to(0)  # the reset done: Faust's check runs again, and finds nothing to report
    assert thread.verify_event_path(now, SOURCE) is None


class SeekRecorder:
    def __init__(self) -> None:
        self.sought: dict[TP, int] = {}

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.sought = dict(offsets)


async def test_recovery_reads_a_changelog_from_its_start_for_any_negative_offset(app: faust.App) -> None:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    consumer = SeekRecorder()
    changelog = [TP("x-changelog", n) for n in range(3)]
    offsets = Counter({changelog[0]: -1, changelog[1]: -7, changelog[2]: 42})
    await recovery._seek_offsets(consumer, set(changelog), offsets, "active")
    assert consumer.sought == {changelog[0]: 0, changelog[1]: 0, changelog[2]: 42}  # Faust's own maps only -1


async def test_the_lag_counts_every_message_from_the_committed_offset_on(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's committed offset is the next one to read, as Kafka's: one message short of the end is a lag of 1."""
    consumer: Any = app.consumer
    other = TP("elsewhere", 0)
    monkeypatch.setattr(consumer, "assignment", lambda: {SOURCE, other})

    async def highwaters(*partitions: TP) -> dict[TP, int]:
        return {tp: 100 for tp in partitions}

    monkeypatch.setattr(consumer, "highwaters", highwaters)
    for committed, lag in ((99, 1), (100, 0), (None, 100)):
        consumer._committed_offset[SOURCE] = committed
        assert await kafka_consumer.consumer_lag(app, SOURCE.topic) == lag


async def test_the_worker_consumer_fetches_in_batches(app: faust.App) -> None:
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
    try:
        fetcher_options = (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms)
        assert fetcher_options == (kafka_consumer.FETCH_MIN_BYTES, kafka_consumer.FETCH_MAX_WAIT_MS)
    finally:
        await consumer.stop()


class EndOfRecoveryConsumer:
    """What the end of a recovery asks of the consumer, with the seek's effect on the changelog queue: records of
    the standby partitions, fetched while the seek is under way (recovery resumed them just before)."""

    def __init__(self, app: faust.App, assignment: set[TP]) -> None:
        self.app, self._assignment, self.calls = app, assignment, list[str]()

    def assignment(self) -> set[TP]:
        return self._assignment

    def pause_partitions(self, tps: set[TP]) -> None:
        self.calls.append(f"pause {sorted(tp.partition for tp in tps)}")

    async def perform_seek(self) -> None:
        self.calls.append("seek")
        self.app.tables.changelog_queue.put_nowait(  # type: ignore[attr-defined]
            "standby record fetched during the seek"
        )

    def resume_flow(self) -> None:
        self.calls.append("resume flow")

    def resume_partitions(self, tps: set[TP]) -> None:
        self.calls.append(f"resume {sorted(tp.partition for tp in tps)}")


def ending_recovery(app: faust.App, monkeypatch: pytest.MonkeyPatch, consumer: EndOfRecoveryConsumer) -> Any:
    """The app's recovery, at its end, with `consumer` and the Fetcher already running."""
    monkeypatch.setattr(app._fetcher, "maybe_start", _nothing)  # before the consumer, which it would ask for
    monkeypatch.setattr(app, "_consumer", consumer)
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    monkeypatch.setattr(recovery, "_is_changelog_tp", lambda tp: tp.topic.endswith("-changelog"))
    return recovery


async def test_ending_a_recovery_keeps_the_standby_records_fetched_meanwhile(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's end of recovery resumed the flow control once more after the seek, which clears every flow-controlled
    queue, the changelog queue included: standby records fetched during the seek were lost, and a later takeover
    served windows without them (the rolling restart test, about one run in ten)."""
    consumer = EndOfRecoveryConsumer(app, {SOURCE, TP("consumer-unit-live-windows-changelog", 1)})
    recovery = ending_recovery(app, monkeypatch, consumer)
    app.consumer_generation_id = 4
    app.flow_control.resume()  # recovery resumed the flow before it started the standbys

    assert await recovery._seek_then_resume(4)

    assert app.tables.changelog_queue.qsize() == 1  # type: ignore[attr-defined]  # still there for `_slurp_changelogs` to apply
    assert consumer.calls == ["pause [0]", "seek", "resume flow", "resume [0]"]  # the sources after the seek


async def test_ending_a_recovery_without_tables_resumes_a_suspended_flow(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    recovery = ending_recovery(app, monkeypatch, EndOfRecoveryConsumer(app, {SOURCE}))
    app.flow_control.suspend()  # since the revocation: nothing resumed it without tables to recover

    assert await recovery._seek_then_resume(app.consumer_generation_id)
    assert app.flow_control.is_active()


async def test_a_partition_not_held_active_before_reads_its_changelog_from_the_start(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local copy can claim more than it holds (kafka/recovery.py, 3): a partition this process did not hold
    active in the generation before (a standby's, or one only on disk from before a restart) is read from the
    changelog's start when it becomes active; one it held active is read from the offset of its copy, as Faust
    does."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    kept, taken, fresh = (TP("consumer-unit-live-windows-changelog", n) for n in range(3))
    recovery.active_tps.add(kept)
    recovery.standby_tps.add(taken)

    async def faust_on_rebalance(self: Recovery, *args: object) -> None:
        """What Faust's own sets: the new assignment, and start offsets from the local copies."""
        self.active_tps.clear()
        self.active_tps.update({kept, taken, fresh})
        self.standby_tps.clear()
        self.active_offsets.update({kept: 40, taken: 90, fresh: 7})

    monkeypatch.setattr(Recovery, "on_rebalance", faust_on_rebalance)
    await recovery.on_rebalance(set(), set(), set(), 0)
    assert dict(recovery.active_offsets) == {kept: 40, taken: -1, fresh: -1}


async def _nothing() -> None:
    return None


async def test_a_fetch_in_flight_delivers_what_it_fetched_when_its_partitions_are_paused(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restart-path stall (issue 26): recovery pauses the last active changelog partition while a fetch waits.
    Faust handed the fetch its own set of active partitions, which the pause emptied in place; aiokafka reads an
    empty set as every partition (`Fetcher.fetched_records`: `if partitions and tp not in partitions`), so it
    drained the stream partitions just sought, and Faust's filter dropped those records with their positions
    advanced: a backlog never delivered. Now the fetch reads the partitions it was asked for, and everything it
    returns is delivered."""
    consumer: Any = app.consumer
    changelog, stream = TP("consumer-unit-live-windows-changelog", 0), SOURCE
    monkeypatch.setattr(consumer, "assignment", lambda: {changelog, stream})
    consumer._set_active_tps({changelog})
    consumer._paused_partitions.add(stream)  # the stream partition waits for the end of the recovery
    app.flow_control.resume()
    consumer.resume_flow()
    fetched_for: list[set[TP]] = []

    async def fetch(active_partitions: set[TP], timeout: float) -> dict[TP, list[Any]]:
        """aiokafka's fetch, with the pause happening while it waits for records."""
        consumer.pause_partitions({changelog})
        await asyncio.sleep(0)
        fetched_for.append(set(active_partitions))
        return {
            tp: [record(tp, offset) for offset in (5, 6)]
            for tp in (changelog, stream)
            if not active_partitions or tp in active_partitions  # aiokafka's rule for the partitions to drain
        }

    monkeypatch.setattr(consumer, "_getmany", fetch)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 7)
    delivered = [(tp, message.offset) async for tp, message in consumer.getmany(timeout=1.0)]
    assert fetched_for == [{changelog}]  # not the emptied set, which aiokafka reads as every partition
    assert delivered == [(changelog, 5), (changelog, 6)]  # nothing fetched is dropped


def record(tp: TP, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, b"v", None, -1, 1, [])
