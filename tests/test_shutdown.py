"""A stop never hangs (ota_stream/shutdown.py): SIGTERM with ClickHouse away ends within SHUTDOWN_TIMEOUT_SECONDS,
commits no offset of an event it did not write, and the next start writes every event exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from ota_stream.retry import Abandoned, Backoff, Cutoff, retry_forever
from ota_stream.shutdown import EXIT_STOP_TIMED_OUT
from tests.conftest import WorkerFactory
from tests.support.diagnosis import group_offsets, pipeline_report
from tests.support.expected import unique
from tests.support.fault_points import injected
from tests.support.processes import stored_rows, wait_for
from tests.support.scenario import Scenario, post_batches
from tests.support.worker_api import scrape, wait_processed
from tests.test_faults import check_every_endpoint

TIMEOUT = 16  # SHUTDOWN_TIMEOUT_SECONDS here: the batch is given up after 8 s; the rest of the stop has 8 s
MARGIN = 5  # for the process to exit once its stop is done (its ingest processes, the interpreter)


async def failing() -> None:
    raise ConnectionError("ClickHouse is away")


async def test_a_cutoff_ends_a_retry_that_would_go_on_forever() -> None:
    cutoff = Cutoff()
    retrying = asyncio.ensure_future(
        retry_forever(failing, "a write", Backoff(initial=20, maximum=20), cutoff=cutoff)
    )
    await asyncio.sleep(0.3)
    assert not retrying.done()  # no cutoff yet: waiting 10-20 s for the second attempt
    started = time.monotonic()
    cutoff.set(0.5)  # wakes the wait; one last attempt at the cutoff
    with pytest.raises(Abandoned, match="a write given up after 2 attempts"):
        await retrying
    assert 0.4 < time.monotonic() - started < 5


async def test_an_operation_that_succeeds_before_the_cutoff_is_done() -> None:
    cutoff = Cutoff()
    attempts: list[int] = []

    async def second_time_lucky() -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionError("once")
        return "written"

    cutoff.set(5)
    assert await retry_forever(second_time_lucky, "a write", Backoff(initial=0.01), cutoff=cutoff) == (
        "written",
        2,
    )


def test_a_stop_still_running_at_the_timeout_exits_with_status_3() -> None:
    """The last resort, in a real process whose stop hangs (its main thread sleeps)."""
    script = "import time\nfrom ota_stream.shutdown import Shutdown\nShutdown(1.0).begin()\ntime.sleep(60)\n"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == EXIT_STOP_TIMED_OUT, run.stderr
    assert time.monotonic() - started < 10
    assert "the stop did not finish within SHUTDOWN_TIMEOUT_SECONDS=1" in run.stdout + run.stderr


def test_sigterm_with_clickhouse_away_ends_in_time_and_commits_nothing_unwritten(
    make_worker: WorkerFactory, tmp_path: Path
) -> None:
    failpoint = tmp_path / "clickhouse-is-down"
    worker = make_worker(**injected(clickhouse_failpoint=failpoint), SHUTDOWN_TIMEOUT_SECONDS=str(TIMEOUT))
    worker.start()
    report = partial(pipeline_report, worker)
    now = datetime.now(UTC)
    events = Scenario(now=now, devices_per_app=30, seed=97).build()
    for i, event in enumerate(events):
        event.setdefault("event_id", f"stop-{i}")
    written, waiting = events[: len(events) // 2], events[len(events) // 2 :]
    post_batches(worker.url, written)
    wait_processed(worker, len(unique(written)))
    wait_for(
        lambda: all((c or 0) == end for _, end, c in group_offsets(worker)), 60, "commits", diagnose=report
    )

    failpoint.touch()
    post_batches(worker.url, waiting)  # ingest does not need ClickHouse; the sink holds a batch and retries
    wait_for(
        lambda: scrape(worker)["ota_pipeline_insert_retries_total"][()] > 0, 60, "retries", diagnose=report
    )
    before = group_offsets(worker)
    assert any((committed or 0) < end for _, end, committed in before), before

    assert worker.process is not None
    started = time.monotonic()
    os.killpg(worker.process.pid, signal.SIGTERM)
    try:
        code = worker.process.wait(
            timeout=TIMEOUT + 60
        )  # a hang fails here, with the log, not at pytest's limit
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not stop within {TIMEOUT + 60}s\n{worker.log_tail(30)}")
    took = time.monotonic() - started
    worker.process = None
    assert took <= TIMEOUT + MARGIN, f"stopped in {took:.1f}s\n{worker.log_tail(30)}"
    assert code == 0, worker.log_tail(30)  # a clean stop: the batch was given up, the rest of the stop ran
    assert "stopping: gave up the batch being written" in worker.log_tail(10_000)
    after = group_offsets(worker)
    assert after == before, "offsets of events never written were committed"

    failpoint.unlink()
    worker.start()
    wait_processed(worker, len(unique(events)) - len(unique(written)))
    wait_for(
        lambda: all((c or 0) == end for _, end, c in group_offsets(worker)), 60, "commits", diagnose=report
    )
    check_every_endpoint(worker, events, ("acme", "globex"), now)
    worker.stop()
    rows = [key for key, _ in stored_rows(worker)]
    assert len(rows) == len(set(rows)) == len(unique(events))
    print(f"SIGTERM with ClickHouse away: stopped in {took:.1f}s (SHUTDOWN_TIMEOUT_SECONDS={TIMEOUT})")
