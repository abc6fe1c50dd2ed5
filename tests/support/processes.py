"""Real processes for end-to-end tests: the local Kafka broker and ota-stream workers."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = ROOT / "scripts" / "kafka" / "kafka.sh"
BIN = Path(sys.executable).parent


# Listening ports are taken below the kernel's ephemeral range. A port from that range, once its process is stopped,
# can be taken as the local end of any outgoing connection, and a client that keeps reconnecting to it (a broker to a
# stopped node, a test to a restarting worker) can even connect to itself; either way the node or worker that comes
# back cannot bind its port again.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10000


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(pairs: int = 1) -> int:
    """A port p such that p .. p+pairs-1 are free on 127.0.0.1 and below the ephemeral range (the broker uses p and
    p+1, a three-node cluster six)."""
    highest = _ephemeral_low() - pairs
    for _ in range(1000):
        port = random.randint(LOWEST_PORT, highest)
        if all(_is_free(port + i) for i in range(pairs)):
            return port
    raise RuntimeError("no free port")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.25,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    """Poll `predicate` until it returns a true value; on timeout raise TimeoutError with `diagnose()`'s report
    of what was seen (see tests/support/diagnosis.py), so that a slow machine can be told from a stuck one."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except AssertionError:
            raise  # a wrong value will not become right by waiting
        except Exception as exc:  # keep polling; report the last error on timeout
            last_error = exc
        time.sleep(interval)
    message = f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}"
    if diagnose is not None:
        try:
            message += "\n" + diagnose()
        except Exception as exc:  # the timeout must be reported even if the diagnosis fails
            message += f"\n(no diagnosis: {exc!r})"
    raise TimeoutError(message)


@dataclass
class Kafka:
    directory: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)  # more for kafka.sh, e.g. KAFKA_SECURITY

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, *command: str) -> None:
        env = {**os.environ, "KAFKA_DIR": str(self.directory), "KAFKA_PORT": str(self.port), **self.env}
        subprocess.run([str(KAFKA_SCRIPT), *command], env=env, check=True, timeout=300)

    def up(self) -> None:
        self._run("up")

    def down(self) -> None:
        self._run("down")


@dataclass
class Worker:
    """One `ota-stream worker` process with its own data folder and port."""

    data_dir: Path
    kafka: Kafka
    topic: str
    group: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    starts: int = 0
    command: str = "worker"  # or "ingest": ingest processes alone (`ota-stream ingest`)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BROKERS": self.kafka.bootstrap,
            "KAFKA_TOPIC": self.topic,
            "KAFKA_CONSUMER_GROUP": self.group,
            "KAFKA_SESSION_TIMEOUT_SECONDS": "6",
            "DATA_DIR": str(self.data_dir),
            "SERVER_PORT": str(self.port),
            "FLUSH_INTERVAL_SECONDS": "0.2",
            # Keys are tested in tests/test_auth.py; the pipeline tests send and read several tenants without them.
            "AUTH_REQUIRED": "false",
            # The session's broker is a single development broker (kafka/replication.py).
            "KAFKA_DEV_BROKER": "true",
            # One ingest process in front, whatever the machine's cores (`auto` sizes it from them): the suite runs
            # several workers at once. Two are tested in tests/test_roles.py.
            "INGEST_PROCESSES": "1",
            **self.env,
            **(overrides or {}),
        }

    def start(self, overrides: Mapping[str, str] | None = None, wait: bool = True) -> None:
        assert self.process is None, "already running"
        self.port = self.port or free_port()
        self.starts += 1
        self.log_path = self.data_dir / f"worker-{self.starts}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(BIN / "ota-stream"), self.command],
            env=self.environment(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            body = requests.get(f"{self.url}/health", timeout=2).json()
            clickhouse = body["services"].get("clickhouse", {"status": "healthy"})  # ingest alone has none
            return clickhouse["status"] == "healthy" and body["services"]["kafka"]["status"] == "healthy"

        try:
            wait_for(ready, timeout, "the worker to become healthy")
        except TimeoutError:
            raise TimeoutError(f"worker not ready:\n{self.log_tail()}") from None

    def health(self) -> dict[str, Any]:
        """The worker's /health; a worker that has exited fails the test at once, with its log (waiting for it
        to answer would only time out and lose the reason)."""
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.url} exited with {self.process.returncode}:\n{self.log_tail(80)}")
        return requests.get(f"{self.url}/health", timeout=5).json()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def rewind(worker: Worker) -> None:
    """Commit offset 0 on every partition of the worker's topic for its group (the worker must be stopped): the
    next start reads everything again, as after a crash that lost every commit."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def commit_zero() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=worker.kafka.bootstrap, group_id=worker.group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()
            numbers = sorted(cluster.partitions_for_topic(worker.topic) or ())
            assert numbers, f"no partitions for {worker.topic}"
            partitions = [TopicPartition(worker.topic, p) for p in numbers]
            consumer.assign(partitions)
            await consumer.commit({tp: 0 for tp in partitions})
        finally:
            await consumer.stop()

    asyncio.run(commit_zero())


def stored_rows(worker: Worker) -> list[tuple[str, str]]:
    """(tenant/event id, partition:offset:index) of every raw row in the worker's chDB, read in a process of its
    own (one opener per folder)."""
    script = (
        "import sys\n"
        "from ota_stream.storage.client import ClickHouse, ClickHouseConfig\n"
        "ch = ClickHouse(ClickHouseConfig(sys.argv[1], 'analytics')); ch.connect()\n"
        "sql = 'SELECT tenant_id, event_id, kafka_partition, kafka_offset, kafka_index FROM ota_events_raw'\n"
        "for t, e, p, o, i in ch.query_rows(sql):\n"
        "    print(f'{t}/{e} {p}:{o}:{i}')\n"
    )
    dsn = f"chdb://{(worker.data_dir / 'clickhouse').resolve()}"
    run = subprocess.run([sys.executable, "-c", script, dsn], check=True, capture_output=True, text=True)
    return [(line.split()[0], line.split()[1]) for line in run.stdout.splitlines()]
