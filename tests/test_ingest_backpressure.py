"""Back-pressure at ingest: a broker slower than the clients gets their new events refused early (503 with
Retry-After) instead of queued until the ack timeout, and every event answered 202 is in the topic.

The broker is made slow by stopping its JVM (SIGSTOP): connections stay open and nothing is acknowledged, as with
a broker stalled on its disk. The ack timeout is far longer than the test waits, so a 503 seen while the broker is
stopped can only come from the back-pressure (INGEST_MAX_WAIT_SECONDS).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer

from tests.support.processes import Kafka, Worker, unique_name, wait_for
from tests.support.worker_api import scrape

MAX_WAIT_SECONDS = "0.5"
ACK_TIMEOUT_SECONDS = "120"  # far beyond this test's waits: no 503 here comes from a timed-out send
LAUNCH_SPACING_SECONDS = 0.05  # how often the clients send a new request while the broker is stopped


@dataclass
class Answer:
    event_id: str
    status: int
    retry_after: str | None


def event(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "tenant_id": "pressure",
        "org_id": "mobile",
        "app_id": "shop",
        "device_id": f"device-{event_id}",
        "event_type": "update_installed",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "release_info": {"current_version": "1.0.0", "target_version": "1.1.0"},
    }


@contextmanager
def stopped(broker: Kafka) -> Iterator[None]:
    """The broker's JVM stopped (SIGSTOP) inside the block, and continued after it whatever happens."""
    pid = int(next(broker.directory.rglob("kafka.pid")).read_text().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def post(session: aiohttp.ClientSession, url: str, event_id: str, answers: list[Answer]) -> None:
    async with session.post(
        f"{url}/events", json=event(event_id), headers={"Content-Type": "application/json"}
    ) as r:
        await r.read()
        answers.append(Answer(event_id, r.status, r.headers.get("Retry-After")))


async def load_until_refused(url: str, broker: Kafka) -> list[Answer]:
    """Post one event, stop the broker, post a new event every LAUNCH_SPACING_SECONDS until one is refused, then
    let the broker go on and collect every answer."""
    answers: list[Answer] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        await post(session, url, "before-stop", answers)
        assert answers[0].status == 202, answers
        posts: list[asyncio.Task[None]] = []
        with stopped(broker):
            while not any(answer.status == 503 for answer in answers):
                if len(posts) > 600:  # 30 s of requests and none refused: no back-pressure
                    raise AssertionError(f"no 503 while the broker was stopped; answers: {answers[:5]}")
                posts.append(asyncio.ensure_future(post(session, url, f"stopped-{len(posts)}", answers)))
                await asyncio.sleep(LAUNCH_SPACING_SECONDS)
            refused_while_stopped = [answer for answer in answers if answer.status == 503]
        await asyncio.gather(*posts)
    assert refused_while_stopped and all(answer.retry_after == "1" for answer in refused_while_stopped)
    return answers


async def event_ids_in(bootstrap: str, topic: str) -> set[str]:
    """Every event id the topic holds, read from its start to its end offsets."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        ids: set[str] = set()
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    assert record.value is not None
                    for line in record.value.split(b"\n"):
                        ids.add(orjson.loads(line)["event_id"])
        return ids
    finally:
        await consumer.stop()


def test_a_stalled_broker_gets_early_503s_and_loses_no_accepted_event(
    own_broker: Kafka, tmp_path: Path
) -> None:
    own_broker.up()
    topic = unique_name("ota-events")
    ingest = Worker(
        tmp_path / "ingest",
        own_broker,
        topic,
        unique_name("ota-group"),
        env={"INGEST_MAX_WAIT_SECONDS": MAX_WAIT_SECONDS, "INGEST_ACK_TIMEOUT_SECONDS": ACK_TIMEOUT_SECONDS},
        command="ingest",
    )
    try:
        ingest.start()
        answers = asyncio.run(load_until_refused(ingest.url, own_broker))
        accepted = {answer.event_id for answer in answers if answer.status == 202}
        refused = {answer.event_id for answer in answers if answer.status == 503}
        assert accepted | refused == {answer.event_id for answer in answers}, (
            answers
        )  # 202 or 503, nothing else
        # The requests queued before the flight in the air grew old are answered once the broker goes on.
        assert len(accepted) >= 2, answers

        in_topic = asyncio.run(event_ids_in(own_broker.bootstrap, topic))
        assert accepted <= in_topic, sorted(accepted - in_topic)[:5]
        assert not refused & in_topic, sorted(refused & in_topic)[:5]  # refused before they were queued
        wait_for(
            lambda: (
                scrape(ingest)["ota_ingest_rejected_total"].get((("reason", "kafka_busy"),)) == len(refused)
            ),
            30,
            "the refusals to be counted",
        )
        assert scrape(ingest)["ota_ingest_accepted_total"][()] == len(accepted)
    finally:
        ingest.stop()
