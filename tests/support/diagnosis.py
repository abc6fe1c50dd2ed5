"""What a fault test saw when a wait timed out: where the pipeline stood and how far each number was off.

A timeout that says only "timed out waiting for every endpoint to equal the independent computation" (issue 18)
cannot tell a slow machine from a stalled worker. These reports say, from outside the worker: the broker's end
offset and the group's committed offset of every partition (the lag Kafka's own tools would show), what the
worker's /health says (status, assignment, lag, events processed, the stall watchdog's verdict), and, for the
analytics, each endpoint's answer against the expected one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import requests
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.processes import Worker

Check = Callable[[], None]  # raises AssertionError naming what differs
REPORT_TIMEOUT_SECONDS = 10


async def broker_offsets(bootstrap: str, topic: str, group: str) -> list[tuple[int, int, int | None]]:
    """(partition, end offset, committed offset or None) of every partition of `topic`, from the broker."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    try:
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
            numbers = [p["partition"] for t in described if t["topic"] == topic for p in t["partitions"]]
            tps = [TopicPartition(topic, p) for p in sorted(numbers)]
            ends = await consumer.end_offsets(tps) if tps else {}
            committed = await admin.list_consumer_group_offsets(group, partitions=tps) if tps else {}
        finally:
            await admin.close()
    finally:
        await consumer.stop()
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        rows.append((tp.partition, ends[tp], meta.offset if meta is not None and meta.offset >= 0 else None))
    return rows


def group_offsets(worker: Worker) -> list[tuple[int, int, int | None]]:
    """(partition, end offset, committed offset or None) of every partition of the worker's topic, for its group,
    as the broker holds them."""
    return asyncio.run(
        asyncio.wait_for(
            broker_offsets(worker.kafka.bootstrap, worker.topic, worker.group), REPORT_TIMEOUT_SECONDS
        )
    )


def kafka_report(worker: Worker) -> str:
    """Per partition: end offset, committed offset and lag of the worker's group, as the broker sees them."""
    try:
        rows = group_offsets(worker)
    except Exception as exc:
        return f"kafka: cannot read offsets ({exc!r})"
    if not rows:
        return f"kafka: topic {worker.topic} has no partitions (not created?)"
    parts = [
        f"p{partition}: end {end}, committed {committed}, lag {end - (committed or 0)}"
        for partition, end, committed in rows
    ]
    return f"kafka ({worker.topic}, group {worker.group}): " + "; ".join(parts)


def worker_report(worker: Worker) -> str:
    """The worker's own account: /health's status, assignment, lag, events processed and the stall verdict."""
    if worker.process is None or worker.process.poll() is not None:
        code = None if worker.process is None else worker.process.returncode
        return f"worker: not running (exit code {code})"
    try:
        body: dict[str, Any] = requests.get(f"{worker.url}/health", timeout=5).json()
    except Exception as exc:
        return f"worker: /health does not answer ({exc!r})"
    kafka = body["services"]["kafka"]
    return (
        f"worker /health: {body['status']}; assigned partitions {kafka.get('assigned_partitions')}, "
        f"consumer lag {kafka.get('consumer_lag')}, producer ready {kafka.get('producer_ready')}; "
        f"clickhouse {body['services']['clickhouse']['status']}; pipeline {body['services'].get('pipeline')}; "
        f"metrics {body['metrics']}"
    )


def pipeline_report(worker: Worker, log_lines: int = 12) -> str:
    """Everything above, and the end of the worker's log."""
    return "\n".join(
        [
            worker_report(worker),
            kafka_report(worker),
            f"worker log, last {log_lines} lines:",
            worker.log_tail(log_lines),
        ]
    )


def differences(checks: dict[str, Check]) -> str:
    """One line per named check: `equal`, or the first place where the answer differs from the expected one."""
    lines = []
    for name, check in checks.items():
        try:
            check()
        except AssertionError as exc:
            lines.append(f"{name}: {_shorten(exc)}")
        except Exception as exc:
            lines.append(f"{name}: cannot ask ({exc!r})")
        else:
            lines.append(f"{name}: equal")
    return "\n".join(lines)


def _shorten(exc: AssertionError, limit: int = 300) -> str:
    """`assert_same` raises (path, got, want): show it as `path: got …, want …`, each part cut to `limit`."""
    if len(exc.args) == 1 and isinstance(exc.args[0], tuple) and len(exc.args[0]) == 3:
        path, got, want = exc.args[0]
        return f"{path}: got {_cut(got, limit)}, want {_cut(want, limit)}"
    return _cut(exc, limit)


def _cut(value: Any, limit: int) -> str:
    text = repr(value) if not isinstance(value, AssertionError) else str(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
