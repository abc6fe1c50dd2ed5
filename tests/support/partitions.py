"""Which worker owns which partitions of the events topic, as each worker's /health says: the failover tests of
alerts and guards wait on it before and after each kill, restart and rebalance."""

from __future__ import annotations

from tests.support.processes import Worker, wait_for

PARTITIONS = 4  # the workers' default KAFKA_TOPIC_PARTITIONS


def owned(worker: Worker) -> set[int]:
    return set(worker.health()["services"]["kafka"]["assigned_partitions"])


def wait_owned(*expected: tuple[Worker, int]) -> None:
    """Wait until each worker owns the given number of partitions, together all of them, none twice."""

    def settled() -> bool:
        parts = [owned(worker) for worker, _ in expected]
        union = set().union(*parts)
        return union == set(range(PARTITIONS)) and [len(p) for p in parts] == [n for _, n in expected]

    wait_for(settled, 120, f"partitions to settle as {[n for _, n in expected]}")
