"""A three-node Kafka cluster (scripts/kafka/kafka.sh with KAFKA_NODES=3), and what the cluster tests read from it:
each partition's leader and in-sync replicas, now and over time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from tests.support.processes import Kafka

NODES = 3
# Client listeners on KAFKA_PORT .. +2, controllers on +3 .. +5 (kafka.sh).
PORTS_USED = 2 * NODES
ADMIN_TIMEOUT_MS = 5000


@dataclass
class Cluster(Kafka):
    """Three nodes, each a broker and a KRaft controller; node n (1..3) listens on port + n - 1."""

    def __post_init__(self) -> None:
        self.env = {"KAFKA_NODES": str(NODES), **self.env}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + n}" for n in range(NODES))

    def stop_node(self, node: int) -> None:
        """SIGTERM, as a rolling restart does: the node hands its partitions' leadership over as it stops."""
        self._run("stop-node", str(node))

    def start_node(self, node: int) -> None:
        """Start the node again; returns once it answers metadata requests (it may still be catching up)."""
        self._run("start-node", str(node))


@dataclass(frozen=True)
class Partition:
    leader: int  # -1 while none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


async def _describe(admin: AIOKafkaAdminClient, topics: list[str] | None) -> dict[tuple[str, int], Partition]:
    found = {}
    for topic in await admin.describe_topics(topics):
        for p in topic["partitions"]:
            found[(topic["topic"], p["partition"])] = Partition(
                p["leader"], tuple(p["replicas"]), tuple(p["isr"])
            )
    return found


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=ADMIN_TIMEOUT_MS)
    await admin.start()
    return admin


def partitions(cluster: Cluster, *topics: str) -> dict[tuple[str, int], Partition]:
    """(topic, partition) -> leader, replicas and in-sync replicas, as the cluster's metadata says now; every topic's
    (Kafka's own included) when none is named."""

    async def read() -> dict[tuple[str, int], Partition]:
        admin = await _admin(cluster.bootstrap)
        try:
            return await _describe(admin, list(topics) or None)
        finally:
            await admin.close()

    return asyncio.run(read())


def busiest_leader(found: dict[tuple[str, int], Partition]) -> int:
    """The node that leads the most of these partitions."""
    leaders = Counter(p.leader for p in found.values() if p.leader >= 0)
    assert leaders, f"no partition has a leader: {found}"
    return leaders.most_common(1)[0][0]


def fully_replicated(cluster: Cluster, *topics: str) -> bool:
    """Every partition of these topics (of every topic when none is named) has all of its replicas in sync."""
    found = partitions(cluster, *topics)
    return bool(found) and all(len(p.isr) == len(p.replicas) for p in found.values())


@dataclass
class IsrWatch:
    """Polls the in-sync replicas of a topic's partitions in a thread of its own and keeps the timeline of the
    smallest ISR among them: the tests ask whether, around a given answer, fewer than two replicas were in sync."""

    cluster: Cluster
    topic: str
    interval: float = 0.25
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, smallest ISR size)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "the ISR watch is stuck"

    async def _run(self) -> None:
        admin = await _admin(self.cluster.bootstrap)
        try:
            while not self._stop.is_set():
                try:
                    found = await _describe(admin, [self.topic])
                    if found:
                        self.samples.append((time.monotonic(), min(len(p.isr) for p in found.values())))
                except Exception as exc:  # a node going away; the next poll asks another
                    self.errors.append(repr(exc))
                await asyncio.sleep(self.interval)
        finally:
            await admin.close()

    def smallest_isr(self, start: float, end: float) -> int | None:
        """The smallest ISR seen from `start` to `end`, counting the last sample before `start` (still true at
        `start`); None when nothing was seen."""
        before = [size for when, size in self.samples if when <= start][-1:]
        during = [size for when, size in self.samples if start < when <= end]
        seen = before + during
        return min(seen) if seen else None

    def summary(self) -> str:
        """The changes of the smallest ISR, as (seconds since the first sample, size)."""
        if not self.samples:
            return f"ISR watch: no samples; errors {self.errors[-3:]}"
        first = self.samples[0][0]
        changes: list[tuple[float, int]] = []
        for when, size in self.samples:
            if not changes or changes[-1][1] != size:
                changes.append((round(when - first, 1), size))
        return f"ISR watch ({self.topic}): smallest ISR over time {changes}; errors {len(self.errors)}"


def describe(found: dict[tuple[str, int], Partition]) -> str:
    return "; ".join(f"{t}[{n}] leader {p.leader} isr {list(p.isr)}" for (t, n), p in sorted(found.items()))
