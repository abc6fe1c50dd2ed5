"""The processes a worker runs (roles.py): ingest processes in front of the stream processing by default, several
of them sharing the port, ingest alone next to a processing-only worker, and no ingest process outliving its
worker."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same, unique
from tests.support.processes import Worker, wait_for
from tests.support.scenario import Scenario, post_batches
from tests.support.worker_api import ENDPOINTS, every_endpoint, scrape, wait_processed


def children(worker: Worker) -> list[int]:
    """The worker's child processes, of every thread (a replacement ingest process is started by a watcher)."""
    assert worker.process is not None
    tasks = Path(f"/proc/{worker.process.pid}/task").glob("*/children")
    return [int(pid) for path in tasks for pid in path.read_text().split()]


def fronts_of(worker: Worker) -> list[int]:
    return [pid for pid in children(worker) if "ota_stream.web.front" in command_line(pid)]


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


# Shared libraries of the stream processing that an ingest process has no use for: embedded ClickHouse, Arrow,
# RocksDB. Each costs tens of MiB of resident memory in every ingest process (bench/RESULTS.md, ingest memory).
WORKER_ONLY_LIBRARIES = ("_chdb", "libarrow", "rocksdict")


def worker_libraries(pid: int) -> set[str]:
    """The file names of the WORKER_ONLY_LIBRARIES mapped into a process."""
    mapped = {Path(line.split()[-1]).name for line in Path(f"/proc/{pid}/maps").read_text().splitlines()}
    return {name for name in mapped if ".so" in name and name.startswith(WORKER_ONLY_LIBRARIES)}


def check(worker: Worker, events: list[dict[str, object]], tenant: str) -> None:
    now = datetime.now(UTC)
    window = Window(tenant, now - timedelta(days=60), now + timedelta(hours=1))
    for (name, extra, compute), got in zip(ENDPOINTS, every_endpoint(worker, window).values(), strict=True):
        assert_same(got, compute(events, window, *extra.values()), name)


def test_ingest_processes_front_the_worker_and_pass_everything_else_on(make_worker: WorkerFactory) -> None:
    worker = make_worker(INGEST_PROCESSES="2")
    worker.start()
    fronts = fronts_of(worker)
    assert len(fronts) == 2
    events = Scenario(now=datetime.now(UTC), tenants=("fronted",), devices_per_app=6).build()
    # One connection per request, so that the kernel spreads them over both ingest processes.
    for event in events[:150]:
        assert requests.post(f"{worker.url}/events", json=event, timeout=30).status_code == 202
    post_batches(worker.url, events[150:], size=50)
    wait_processed(worker, len(unique(events)))
    check(worker, events, "fronted")  # analytics, answered by the worker behind them
    # Every scrape, whichever process answers it, counts the events of both ingest processes and the worker's own.
    for _ in range(6):
        metrics = scrape(worker)
        assert metrics["ota_ingest_accepted_total"][()] == len(events)
        assert metrics["ota_pipeline_events_processed_total"][()] == len(unique(events))
    response = requests.get(f"{worker.url}/analytics/adoption", params={"tenant_id": "fronted"},
                            headers={"X-Request-ID": "trace-me-1"}, timeout=30)  # fmt: skip
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "trace-me-1"
    # The ingest processes, having served all of that, never loaded the stream processing's libraries; the worker
    # behind them did (the check would pass vacuously if the names were wrong).
    for pid in fronts:
        assert not worker_libraries(pid), pid
    assert worker.process is not None
    assert len(worker_libraries(worker.process.pid)) >= 3

    # The worker dies (SIGKILL to it alone): its ingest processes go with it, none is left serving.
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(30)
    wait_for(lambda: not any(alive(pid) for pid in fronts), 30, "the ingest processes to exit")


def test_an_ingest_process_that_dies_is_replaced(make_worker: WorkerFactory) -> None:
    """The ingest process is the worker's only door (its port, /health included): one killed is started again,
    and what was sent before and after counts once."""
    worker = make_worker()
    worker.start()
    events = Scenario(now=datetime.now(UTC), tenants=("replaced",), devices_per_app=4).build()
    half = len(events) // 2
    post_batches(worker.url, events[:half], size=40)
    (killed,) = fronts_of(worker)
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: (pids := fronts_of(worker)) and killed not in pids, 60, "a new ingest process")
    wait_for(lambda: worker.health()["status"] == "healthy", 60, "the worker to answer again")
    post_batches(worker.url, events[half:], size=40)
    wait_processed(worker, len(unique(events)))
    check(worker, events, "replaced")
    assert worker.log_path is not None
    assert f"ingest process {killed} ended with status -9; starting another" in worker.log_path.read_text()


def test_ingest_alone_in_front_of_a_processing_worker(make_worker: WorkerFactory) -> None:
    processing = make_worker("processing", WORKER_ROLE="process")
    processing.start()
    ingest = make_worker("ingest", command="ingest", INGEST_PROCESSES="2")
    ingest.start()
    assert requests.post(f"{processing.url}/events", json={}, timeout=30).status_code == 404
    assert requests.get(f"{ingest.url}/analytics/adoption", timeout=30).status_code == 404
    health = ingest.health()
    assert health["role"] == "ingest" and health["services"]["kafka"]["producer_ready"]
    events = Scenario(now=datetime.now(UTC), tenants=("split",), devices_per_app=5).build()
    post_batches(ingest.url, events, size=40)
    wait_processed(processing, len(unique(events)))
    check(processing, events, "split")
    assert scrape(ingest)["ota_ingest_accepted_total"][()] == len(events)
    assert "ota_ingest_accepted_total" not in scrape(processing)
