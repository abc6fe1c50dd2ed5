"""What the side-by-side benchmarks share: a broker of their own, rounds in alternating order, process figures."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.processes import free_port  # one rule for ports, tests and benches alike

ROOT = Path(__file__).resolve().parents[1]


def wait_healthy(url: str, timeout: float = 300, path: str = "/health") -> None:
    """Until `url` answers 200 at `path` (a server that has just started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not become healthy")


@contextmanager
def broker(existing: str | None, scratch: Path) -> Iterator[str]:
    """The bootstrap address of `existing`, or of a fresh broker started now (scripts/kafka/kafka.sh) and stopped
    afterwards."""
    if existing is not None:
        yield existing
        return
    env = {**os.environ, "KAFKA_DIR": str(scratch / "kafka"), "KAFKA_PORT": str(free_port(pairs=2))}
    subprocess.run([str(ROOT / "scripts/kafka/kafka.sh"), "up"], env=env, check=True)
    try:
        yield f"127.0.0.1:{env['KAFKA_PORT']}"
    finally:
        subprocess.run([str(ROOT / "scripts/kafka/kafka.sh"), "down"], env=env, check=False)


def alternating(programs: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, program): each round starts one program later, so that none always runs first or last."""
    for round_ in range(rounds):
        shift = round_ % len(programs)
        for program in [*programs[shift:], *programs[:shift]]:
            yield round_, program


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_group_rss_mib(pgid: int) -> float:
    """Resident memory now of every process in a process group (a worker started in a session of its own, with
    its ingest processes)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024
