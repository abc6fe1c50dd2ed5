"""The events topic's two kinds of message on real workers: envelopes from our ingest and single events from
another producer, mixed on one partition, duplicates across the two counted once, and rows that ClickHouse itself
refuses split out to the dead-letter topic while the rest of their batch is written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaProducer

from ota_stream.kafka import envelope
from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same, unique
from tests.support.live import expected_windows, recent_events
from tests.support.processes import Worker, rewind, stored_rows, wait_for
from tests.support.rows import envelopes
from tests.support.scenario import Event, post_batches
from tests.support.worker_api import ENDPOINTS, every_endpoint, live, scrape, wait_processed

APP = "live/o/mixed"


async def produce_mixed(worker: Worker, events: list[Event]) -> int:
    """Alternate runs of single-event messages and envelopes on the app's partition; returns messages sent."""
    producer = AIOKafkaProducer(bootstrap_servers=worker.kafka.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    key = orjson.dumps(APP)
    sent = 0
    try:
        for start in range(0, len(events), 40):
            chunk = events[start : start + 40]
            if (start // 40) % 2:
                for packed in envelopes(chunk, per_message=15):
                    await producer.send_and_wait(
                        worker.topic, packed.value, key=key, headers=envelope.HEADERS
                    )
                    sent += 1
            else:
                for event in chunk:
                    await producer.send_and_wait(worker.topic, orjson.dumps(event), key=key)
                    sent += 1
    finally:
        await producer.stop()
    return sent


def test_single_events_and_envelopes_mixed_on_one_partition(make_worker: WorkerFactory) -> None:
    worker = make_worker()
    worker.start()
    events = [{**e, "app_id": "mixed"} for e in recent_events(["mixed"], 400, seed=9)]
    # Client retries that cross the two forms: the same ids again, now single, now inside an envelope.
    events += [dict(e) for e in events[:30]] + [dict(e) for e in events[200:230]]
    asyncio.run(produce_mixed(worker, events))
    count = len(unique(events))
    wait_processed(worker, count, duplicates=len(events) - count)
    want = expected_windows(events, APP, 60)
    assert live(worker, APP) == want
    now = datetime.now(UTC)
    window = Window("live", now - timedelta(hours=2), now + timedelta(minutes=1))
    for (name, extra, compute), got in zip(ENDPOINTS, every_endpoint(worker, window).values(), strict=True):
        assert_same(got, compute(events, window, *extra.values()), name)

    # Everything again, as after a crash before any commit: positions name each event of either form.
    worker.stop()
    rewind(worker)
    worker.start()
    wait_processed(worker, 0, duplicates=len(events))
    assert live(worker, APP) == want


async def produce_envelopes(worker: Worker, events: list[Event]) -> dict[str, str]:
    """The events in envelopes of one to three lines, as ingest sends them (no key, partitions in turn); returns
    where each was written: tenant/event id -> partition:offset:index."""
    producer = AIOKafkaProducer(bootstrap_servers=worker.kafka.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    written: dict[str, str] = {}
    try:
        partitions = sorted(await producer.partitions_for(worker.topic))
        start = 0
        while start < len(events):
            chunk = events[start : start + 1 + len(written) % 3]
            (packed,) = envelopes(chunk, per_message=len(chunk))
            partition = partitions[start % len(partitions)]
            sent = await producer.send_and_wait(
                worker.topic, packed.value, partition=partition, headers=envelope.HEADERS
            )
            for index, event in enumerate(chunk):
                written[f"{event['tenant_id']}/{event['event_id']}"] = (
                    f"{sent.partition}:{sent.offset}:{index}"
                )
            start += len(chunk)
    finally:
        await producer.stop()
    return written


def test_a_backlog_of_envelopes_is_read_joined_and_stored_where_it_was_written(
    make_worker: WorkerFactory,
) -> None:
    """A worker that starts behind reads runs of envelopes as one message each (kafka/coalesce.py): every event is
    stored at its own envelope's position, and the commits reach the end of the log."""
    worker = make_worker()
    worker.start()  # creates the topic
    worker.stop()
    events = unique([{**e, "app_id": "joined"} for e in recent_events(["joined"], 400, seed=4)])
    written = asyncio.run(produce_envelopes(worker, events))
    worker.start()
    wait_processed(worker, len(events), duplicates=0)
    wait_for(lambda: worker.health()["services"]["kafka"]["consumer_lag"] == 0, 60, "every offset committed")
    received = scrape(worker)["faust_messages_received_per_topic_total"][(("topic", worker.topic),)]
    envelopes_written = len({position.rsplit(":", 1)[0] for position in written.values()})
    assert received <= envelopes_written / 4, (received, envelopes_written)  # joined, not one message each
    worker.stop()
    assert dict(stored_rows(worker)) == written


def refuse_devices(worker: Worker, prefix: str) -> None:
    """Add a constraint to the worker's raw table, as an operator might, from a process of its own (chDB lets
    one process open a data folder, and the worker is stopped)."""
    script = (
        "from ota_stream.storage.client import ClickHouse, ClickHouseConfig\n"
        "import sys\n"
        "ch = ClickHouse(ClickHouseConfig(sys.argv[1], 'analytics')); ch.connect()\n"
        'ch.command_sync("ALTER TABLE ota_events_raw ADD CONSTRAINT no_refused CHECK NOT startsWith(device_id, '
        "{p:String})\", {'p': sys.argv[2]})\n"
    )
    dsn = f"chdb://{(worker.data_dir / 'clickhouse').resolve()}"
    subprocess.run([sys.executable, "-c", script, dsn, prefix], check=True, timeout=120)


def test_rows_clickhouse_refuses_are_dead_lettered_and_the_rest_written(make_worker: WorkerFactory) -> None:
    worker = make_worker()
    worker.start()
    worker.stop()
    refuse_devices(worker, "refused-")
    worker.start()
    now = datetime.now(UTC)
    events = [
        {**e, "tenant_id": "refusal", "device_id": f"refused-{i}" if i % 50 == 7 else e["device_id"]}
        for i, e in enumerate(recent_events(["a", "b"], 300, seed=4))
    ]
    events = unique(events)
    refused = [e for e in events if e["device_id"].startswith("refused-")]
    assert post_batches(worker.url, events, size=300) == len(events)
    wait_for(lambda: worker.health()["metrics"]["dead_lettered"] == len(refused), 90, "the refused rows")
    wait_processed(worker, len(events) - len(refused))
    kept = [e for e in events if e not in refused]
    window = Window("refusal", now - timedelta(hours=2), now + timedelta(minutes=1))
    for (name, extra, compute), got in zip(ENDPOINTS, every_endpoint(worker, window).values(), strict=True):
        assert_same(got, compute(kept, window, *extra.values()), name)
    metrics = scrape(worker)
    assert metrics["ota_pipeline_dead_lettered_total"][(("reason", "clickhouse_rejected"),)] == len(refused)
    assert worker.health()["metrics"]["refused_by_clickhouse"] == len(refused)
