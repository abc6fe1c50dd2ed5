"""Poison written straight to Kafka goes to the dead-letter topic once per position, with its reason, while the
pipeline goes on: foreign messages that are not events, bad lines inside an envelope, and a worker that reads all
of it again (a redelivery) adds no second dead letter."""

from __future__ import annotations

import asyncio

import orjson
import requests
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ota_stream.kafka import envelope
from tests.conftest import WorkerFactory
from tests.support.bad_input import event
from tests.support.processes import Worker, rewind, wait_for
from tests.support.rows import envelopes
from tests.support.worker_api import adoption

KEY = b'"poison/o/a"'
FOREIGN = [
    (b"not json at all", "invalid_json"),
    (orjson.dumps({"tenant_id": "poison", "event_type": "nope"}), "invalid_event"),
    (b'{"tenant_id": "poison", "device_id": "' + b"x" * 900_000 + b'"}', "invalid_event"),
]


async def produce(worker: Worker) -> list[tuple[bytes, str, int]]:
    """Three foreign poison messages, then an envelope of two good events around a bad line; returns what the
    dead-letter topic must hold: (value, kind, line index) in order."""
    good = [event(tenant_id="poison", event_id=f"good-{i}", device_id=f"d{i}") for i in range(2)]
    lines = envelopes(good)[0].value.split(b"\n")
    bad_line = b'{"event_id": "x", "event_type": "update_installed"}'
    producer = AIOKafkaProducer(bootstrap_servers=worker.kafka.bootstrap, max_request_size=2_000_000)
    await producer.start()
    try:
        for value, _ in FOREIGN:
            await producer.send_and_wait(worker.topic, value, key=KEY)
        packed = envelope.pack([lines[0], bad_line, lines[1]])
        await producer.send_and_wait(worker.topic, packed, key=KEY, headers=envelope.HEADERS)
    finally:
        await producer.stop()
    return [(value, kind, 0) for value, kind in FOREIGN] + [(bad_line, "invalid_event", 1)]


async def read_to_end(worker: Worker) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every record of the dead-letter topic, up to its end offsets."""
    consumer = AIOKafkaConsumer(
        f"{worker.topic}-dlq", bootstrap_servers=worker.kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend((r.value or b"", dict(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return found


def metric(worker: Worker, line: str) -> str:
    text = requests.get(f"{worker.url}/metrics", timeout=30).text
    return next(row for row in text.splitlines() if row.startswith(line))


def test_poison_is_dead_lettered_once_per_position(make_worker: WorkerFactory) -> None:
    worker = make_worker()
    worker.start()
    want = asyncio.run(produce(worker))
    wait_for(
        lambda: adoption(worker, tenant_id="poison", days=1)["successful_updates"] == 2, 90, "the good events"
    )
    wait_for(lambda: worker.health()["metrics"]["dead_lettered"] == len(want), 60, "the dead letters")
    dead = asyncio.run(read_to_end(worker))
    assert len(dead) == len(want), [h for _, h in dead]
    by_source = {headers["source"].decode(): (value, headers) for value, headers in dead}
    sources = sorted(by_source, key=lambda s: [int(part) for part in s.split("/")[1:]])
    assert len(sources) == len(want)  # one record per position, none twice
    for source, (value, kind, index) in zip(sources, want, strict=True):
        dead_value, headers = by_source[source]
        assert source.startswith(f"{worker.topic}/") and source.endswith(f"/{index}"), source
        assert headers["reason"].decode().startswith(kind), headers
        assert dead_value == value[: len(dead_value)]
        assert ("truncated" in headers) == (len(value) > 256 * 1024)
    assert (
        metric(worker, 'ota_pipeline_dead_lettered_total{reason="invalid_json"}')
        == 'ota_pipeline_dead_lettered_total{reason="invalid_json"} 1.0'
    )
    assert metric(worker, 'ota_pipeline_dead_lettered_total{reason="invalid_event"}').endswith(" 3.0")

    # Read everything again, as after a crash that lost every commit. The good events are duplicates, and the
    # poison was dead-lettered already.
    worker.stop()
    rewind(worker)
    worker.start()
    wait_for(lambda: worker.health()["metrics"]["duplicates_dropped"] == 2, 90, "the redelivered events")
    assert worker.health()["metrics"]["dead_lettered"] == 0
    assert len(asyncio.run(read_to_end(worker))) == len(want)
    assert adoption(worker, tenant_id="poison", days=1)["successful_updates"] == 2
