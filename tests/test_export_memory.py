"""A 1,000,000-row export streams from a real worker process with its memory flat, in each format; one row more
than EXPORT_MAX_ROWS is refused with 413.

The rows are inserted straight into the worker's chDB through the raw table (tests/support/bulk.py, in a process
of its own before the worker starts, since chDB lets one process open a folder), not through Kafka.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from tests.support.processes import ROOT, Kafka, Worker, unique_name

ROWS = 1_000_000
MAX_GROWTH_MIB = 100
WINDOW = {"tenant_id": "big", "days": "30"}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """Samples a process's resident set every 20 ms on a thread, while a block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def big(kafka: Kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    data_dir = tmp_path_factory.mktemp("export-memory")
    fill = [sys.executable, "-m", "tests.support.bulk", str(data_dir)]
    subprocess.run([*fill, "big", "o", "a", str(ROWS)], check=True, cwd=ROOT, timeout=600)
    subprocess.run([*fill, "big", "o", "other", "1"], check=True, cwd=ROOT, timeout=600)
    worker = Worker(data_dir, kafka, unique_name("ota-events"), unique_name("ota-group"))
    worker.start()
    yield worker
    worker.stop()


def download(
    worker: Worker, fmt: str, during: Callable[[], None] = lambda: None, **extra: str
) -> tuple[requests.Response, bytes, float]:
    """Stream an export into the test's memory, calling `during` after its first chunk; returns the response, the
    body and the worker's peak RSS."""
    assert worker.process is not None
    body = io.BytesIO()
    with (
        PeakRss(worker.process.pid) as peak,
        requests.get(
            f"{worker.url}/analytics/export",
            params={**WINDOW, "format": fmt, **extra},
            stream=True,
            timeout=600,
        ) as response,
    ):
        for chunk in response.iter_content(1 << 20):
            if not body.tell():
                during()
            body.write(chunk)
    return response, body.getvalue(), peak.peak


def other_queries_answer(worker: Worker) -> None:
    """Another route answers while an export stream is open and unread: exports read on their own connection."""
    response = requests.get(f"{worker.url}/analytics/apps", params=WINDOW, timeout=60)
    assert response.status_code == 200 and response.json()["data"][0]["events"] == ROWS


def test_one_million_rows_stream_with_flat_memory(big: Worker) -> None:
    assert big.process is not None
    # Warm up: the first export loads pyarrow's Parquet writer and chDB's caches for the table.
    for fmt in ("ndjson", "csv", "parquet"):
        response, _, _ = download(big, fmt, app_id="other")
        assert response.status_code == 200, response.text
    baseline = rss_mib(big.process.pid)
    for fmt in ("ndjson", "csv", "parquet"):
        response, body, peak = download(big, fmt, lambda: other_queries_answer(big), app_id="a")
        assert response.status_code == 200, body[:500]
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.headers["X-Export-Rows"] == str(ROWS)
        if fmt == "parquet":
            table = pq.read_table(io.BytesIO(body))
            assert table.num_rows == ROWS and set(table.column("tenant_id").unique().to_pylist()) == {"big"}
        else:
            lines = body.count(b"\n")
            assert lines == ROWS + (fmt == "csv"), (fmt, lines)
        growth = peak - baseline
        print(f"{fmt}: {len(body) / 2**20:.0f} MiB sent, worker RSS {baseline:.0f} -> peak {peak:.0f} MiB")
        assert growth < MAX_GROWTH_MIB, (fmt, baseline, peak)


def test_one_row_over_the_limit_is_413(big: Worker) -> None:
    response = requests.get(f"{big.url}/analytics/export", params={**WINDOW, "format": "csv"}, timeout=60)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and "1000001" in error["message"]
