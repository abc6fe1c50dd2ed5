"""The pipeline on a real three-node Kafka cluster (scripts/kafka/kafka.sh, KAFKA_NODES=3) with the production
defaults: topics of three replicas with min.insync.replicas 2, no KAFKA_DEV_BROKER. One cluster serves the module;
each test stops nodes as a rolling restart or an outage would (SIGTERM) and leaves the cluster whole again.

What each test checks, from outside the worker: the HTTP answers against the in-sync replicas seen meanwhile
(tests/support/cluster.py), the events stored in ClickHouse through /analytics/export against those answered 202,
the group's committed offsets against the end of every partition as the brokers report them, and the live windows
against an independent computation.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import orjson
import pytest
import requests
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ota_stream.config import KafkaSettings
from ota_stream.kafka import producer
from ota_stream.kafka.producer import EventPublisher, KafkaUnavailable
from tests.support.cluster import (
    NODES,
    PORTS_USED,
    Cluster,
    IsrWatch,
    Partition,
    busiest_leader,
    describe,
    fully_replicated,
    partitions,
)
from tests.support.diagnosis import group_offsets, pipeline_report
from tests.support.live import expected_windows, recent_events
from tests.support.posting import RetryingClient
from tests.support.processes import Worker, free_port, remove, unique_name, wait_for
from tests.support.scenario import Event, rfc3339
from tests.support.sockets import established
from tests.support.worker_api import kafka_refusals, scrape
from tests.test_live import wait_live

ACK_TIMEOUT = 10.0  # INGEST_ACK_TIMEOUT_SECONDS, the default
APPS = [f"app{i}" for i in range(10)]  # their keys hash to every partition of the events topic
KEYS = [f"live/o/{app}" for app in APPS]
OUTAGE_SECONDS = 20

ClusterWorkers = Callable[..., Worker]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = Cluster(Path(tempfile.mkdtemp(prefix="ota-cluster-")), free_port(pairs=PORTS_USED))
    started.up()
    try:
        yield started
    finally:
        started.down()
        remove(started.directory)


@pytest.fixture
def whole(cluster: Cluster) -> Iterator[Cluster]:
    """The module's cluster; after the test every node it stopped is started again, and caught up (the next test
    may stop the others)."""
    yield cluster
    cluster.up()
    wait_for(
        lambda: fully_replicated(cluster),
        120,
        "every partition to have all its replicas in sync again",
        diagnose=lambda: describe(partitions(cluster)),
    )


@pytest.fixture
def cluster_workers(whole: Cluster, tmp_path: Path) -> Iterator[ClusterWorkers]:
    """Workers of one topic and group on the cluster, with the production replication; stopped at the end."""
    topic, group = unique_name("ota-events"), unique_name("ota-group")
    workers: list[Worker] = []

    def build(name: str = "w") -> Worker:
        worker = Worker(tmp_path / name, whole, topic, group, env={"KAFKA_DEV_BROKER": "false"})
        workers.append(worker)
        return worker

    yield build
    for worker in workers:
        worker.stop()


def flowing(client: RetryingClient, answers: int = 10) -> None:
    """Wait until the client has had `answers` more answers from now."""
    target = len(client.answers) + answers
    wait_for(lambda: len(client.answers) >= target, 120, "POSTs to be answered", diagnose=client.summary)


def check_answers(client: RetryingClient, watch: IsrWatch) -> None:
    """Every POST was answered, 202 or 503 (never a 500, never left without an answer) within the ack timeout, and a
    503 only while fewer than two replicas of some partition of the events topic were in sync."""
    for answer in client.answers:
        assert answer.status in (202, 503), f"{answer}\n{client.summary()}"
        assert answer.waited < ACK_TIMEOUT + 5, f"an answer after {answer.waited:.1f}s: {answer}"
        if answer.status == 503:
            assert answer.retry_after, answer
            smallest = watch.smallest_isr(answer.sent, answer.when)
            assert smallest is not None and smallest < 2, (
                f"503 while {smallest} replicas were in sync: {answer}\n{watch.summary()}"
            )


def export_ids(worker: Worker) -> Counter[str]:
    """event_id -> rows stored, for tenant `live` (recent_events), through /analytics/export."""
    now = datetime.now(UTC)
    query = {
        "tenant_id": "live",
        "from": rfc3339(now - timedelta(hours=2)),
        "to": rfc3339(now + timedelta(hours=1)),
        "format": "ndjson",
    }
    response = requests.get(f"{worker.url}/analytics/export", params=query, timeout=60)
    assert response.status_code == 200, response.text
    return Counter(orjson.loads(line)["event_id"] for line in response.content.splitlines() if line)


def stored_exactly_once(worker: Worker, accepted: list[Event]) -> None:
    """Every event answered 202 is in ClickHouse once, and nothing else is."""
    want = {event["event_id"] for event in accepted}

    def stored() -> bool:
        got = export_ids(worker)
        twice = [event_id for event_id, rows in got.items() if rows > 1]
        assert not twice, f"{len(twice)} events stored twice, e.g. {twice[:3]}"
        unexpected = set(got) - want
        assert not unexpected, (
            f"{len(unexpected)} events stored that were never accepted: {sorted(unexpected)[:3]}"
        )
        return set(got) == want

    def diagnose() -> str:
        missing = want - set(export_ids(worker))
        return f"{len(missing)} of {len(want)} accepted events not stored\n{pipeline_report(worker)}"

    wait_for(stored, 180, "every accepted event to be stored", interval=1, diagnose=diagnose)


def lag_returns_to_zero(worker: Worker) -> None:
    """The group's committed offset is the end offset of every partition, as the brokers report them (every
    partition holds events: APPS cover them all)."""

    def committed_to_the_end() -> bool:
        rows = group_offsets(worker)
        return bool(rows) and all(end > 0 and committed == end for _, end, committed in rows)

    wait_for(
        committed_to_the_end,
        120,
        "the committed offsets to reach the end of every partition",
        interval=1,
        diagnose=partial(pipeline_report, worker),
    )


def still_running(worker: Worker) -> None:
    assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
    assert worker.starts == 1


def posting(cluster: Cluster, worker: Worker, seed: int) -> tuple[RetryingClient, IsrWatch]:
    """A client posting recent events of APPS to the worker (more than a test sends), and a watch of the in-sync
    replicas of its topic; both started, the client already answered."""
    client = RetryingClient(worker.url, recent_events(APPS, 30_000, seed=seed), batch_size=20, pause=0.1)
    watch = IsrWatch(cluster, worker.topic)
    watch.start()
    client.start()
    flowing(client)
    return client, watch


def production_replication(cluster: Cluster, worker: Worker) -> None:
    """The worker made its topics with the production defaults: three replicas, all in sync, two required."""
    topics = (worker.topic, f"{worker.group}-live-windows-changelog")

    def made() -> dict[tuple[str, int], Partition] | None:
        """Both topics, every replica in sync: a worker answers healthy once its events topic is there, and its
        table's changelog may come moments later."""
        found = partitions(cluster, *topics)
        complete = {topic for topic, _ in found} == set(topics)
        return found if complete and all(len(p.isr) == NODES for p in found.values()) else None

    found = wait_for(made, 60, "the worker's topics", diagnose=lambda: describe(partitions(cluster, *topics)))
    assert all(sorted(p.replicas) == [1, 2, 3] and len(p.isr) == NODES for p in found.values()), describe(
        found
    )
    assert asyncio.run(topic_config(cluster, worker.topic, "min.insync.replicas")) == "2"
    # The live changelog is read from its start at each takeover (kafka/recovery.py): a segment rolls every hour
    # (the default retention) so that compaction keeps it short.
    assert asyncio.run(topic_config(cluster, topics[1], "segment.ms")) == "3600000"


async def topic_config(cluster: Cluster, topic: str, name: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        return str(
            next(entry[1] for resource in response.resources for entry in resource[4] if entry[0] == name)
        )
    finally:
        await admin.close()


def test_the_leaders_node_stops_for_20_seconds_under_a_stream_of_posts(
    cluster_workers: ClusterWorkers, whole: Cluster
) -> None:
    worker = cluster_workers()
    worker.start()
    production_replication(whole, worker)
    client, watch = posting(whole, worker, seed=26)
    try:
        found = partitions(whole, worker.topic)
        leader = busiest_leader(found)
        whole.stop_node(leader)
        down = time.monotonic()
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
        back = time.monotonic()
        whole.start_node(leader)
        wait_for(
            lambda: fully_replicated(whole, worker.topic),
            120,
            f"node {leader} back in sync",
            diagnose=lambda: describe(partitions(whole, worker.topic)),
        )
        flowing(client)  # and POSTs go on after it
    finally:
        client.stop()
        watch.stop()
    check_answers(client, watch)
    during = [answer for answer in client.answers if down < answer.sent and answer.when < back]
    assert any(answer.status == 202 for answer in during), f"nothing accepted with node {leader} down"
    stored_exactly_once(worker, client.accepted)
    lag_returns_to_zero(worker)
    still_running(worker)


def test_two_nodes_down_ingest_answers_503_until_one_returns(
    cluster_workers: ClusterWorkers, whole: Cluster
) -> None:
    worker = cluster_workers()
    worker.start()
    client, watch = posting(whole, worker, seed=27)
    try:
        first = busiest_leader(partitions(whole, worker.topic))
        second = next(node for node in range(1, NODES + 1) if node != first)
        whole.stop_node(first)
        whole.stop_node(second)
        both_down = time.monotonic()
        # From a second on: a batch acknowledged just before may still be on its way.
        wait_for(
            lambda: sum(answer.sent > both_down + 1 for answer in client.answers) >= 2,
            60,
            "two answers with two nodes down",
            diagnose=client.summary,
        )
        returning = time.monotonic()
        whole.start_node(first)
        wait_for(
            lambda: any(answer.status == 202 and answer.sent > returning for answer in client.answers),
            120,
            f"ingest to accept again with node {first} back",
            diagnose=lambda: f"{client.summary()}\n{watch.summary()}\n{pipeline_report(worker)}",
        )
        flowing(client)
    finally:
        client.stop()
        watch.stop()
    refused = [answer for answer in client.answers if both_down + 1 < answer.sent and answer.when < returning]
    assert len(refused) >= 2 and all(answer.status == 503 for answer in refused), refused
    check_answers(client, watch)
    stored_exactly_once(worker, client.accepted)
    lag_returns_to_zero(worker)
    still_running(worker)
    assert kafka_refusals(scrape(worker)) == sum(answer.events for answer in client.answered(503))


def test_live_windows_survive_a_node_restart(cluster_workers: ClusterWorkers, whole: Cluster) -> None:
    """A node restarts under a worker with live tables: the worker's windows are exact afterwards, and so is the
    changelog, from which a worker with no local state rebuilds every window."""
    first = cluster_workers("w1")
    first.start()
    changelog = f"{first.group}-live-windows-changelog"
    client, watch = posting(whole, first, seed=28)
    try:
        node = busiest_leader(partitions(whole, changelog))
        whole.stop_node(node)
        flowing(client)
        whole.start_node(node)
        wait_for(
            lambda: fully_replicated(whole, first.topic, changelog),
            120,
            f"node {node} back in sync",
            diagnose=lambda: describe(partitions(whole, first.topic, changelog)),
        )
        flowing(client)
    finally:
        client.stop()
        watch.stop()
    check_answers(client, watch)
    wanted = {key: expected_windows(client.accepted, key, 60) for key in KEYS}
    assert all(wanted.values())
    for key, want in wanted.items():
        wait_live(first, key, want, timeout=120)
    still_running(first)
    lag_returns_to_zero(first)

    first.stop()
    second = cluster_workers("w2")  # a data folder of its own: no local copy of the table
    second.start()
    for key, want in wanted.items():
        wait_live(second, key, want, timeout=120)


async def create_refusing_topic(cluster: Cluster, topic: str) -> None:
    """One partition with replicas on nodes 1 and 2, and min.insync.replicas 2: refused while either is down."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        spec = NewTopic(topic, -1, -1, {0: [1, 2]}, {"min.insync.replicas": "2"})
        await admin.create_topics([spec])
    finally:
        await admin.close()


async def replace_after_failed_sends(cluster: Cluster, topic: str, sends: int) -> tuple[int, int]:
    """Fail `sends` sends of an ingest publisher on `topic`; returns this process's connections to the cluster
    before the first send and once the replaced producers have had the time to close (at most 20 s)."""
    ports = {cluster.port + n for n in range(NODES)}
    replaced: list[None] = []
    settings = KafkaSettings(brokers=cluster.bootstrap, topic=topic, ack_timeout_seconds=1)
    publisher = EventPublisher(settings, on_replaced=lambda: replaced.append(None))

    async def connected() -> None:
        deadline = time.monotonic() + 60
        while not publisher.ready:  # it connects in the background
            assert time.monotonic() < deadline, "the publisher did not connect within 60 s"
            await asyncio.sleep(0.05)

    await publisher.start()
    try:
        await connected()
        before = established(os.getpid(), ports)
        for _ in range(sends):
            with pytest.raises(KafkaUnavailable):
                await publisher.publish([(b"key", b"line")])
            await connected()
        assert len(replaced) == sends
        deadline = time.monotonic() + 20
        while (after := established(os.getpid(), ports)) > before and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        return before, after
    finally:
        await publisher.stop()


def test_a_replaced_ingest_producer_lets_go_of_its_connections(
    whole: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Kafka refuses writes (fewer replicas in sync than min.insync.replicas), each failed send replaces the
    ingest producer. aiokafka's idempotent producer retries a batch for ever, so the replaced one cannot flush; it
    must still be closed: before kafka/producer.py closed it, each kept its sender retrying and its connections
    open for good (two nodes down for long meant one more producer every ten seconds)."""
    topic = unique_name("refused")
    asyncio.run(create_refusing_topic(whole, topic))
    whole.stop_node(2)
    monkeypatch.setattr(producer, "RETIRE_TIMEOUT_SECONDS", 1.0)
    before, after = asyncio.run(replace_after_failed_sends(whole, topic, sends=3))
    assert after <= before, f"{after} connections to the cluster after three replacements, {before} before"
