"""The environment that gives a worker process the test-only faults of tests/support/faults/ (its sitecustomize):
production settings keep no test hook."""

from __future__ import annotations

from pathlib import Path

PLUGIN = Path(__file__).resolve().parent / "faults"


def injected(clickhouse_failpoint: Path | None = None, seek_delay_seconds: float = 0.0) -> dict[str, str]:
    """Variables for a worker: ClickHouse fails while `clickhouse_failpoint` exists; each seek of Faust's consumer
    after an assignment waits `seek_delay_seconds`."""
    env = {"PYTHONPATH": str(PLUGIN)}
    if clickhouse_failpoint is not None:
        env["OTA_TEST_CLICKHOUSE_FAILPOINT_FILE"] = str(clickhouse_failpoint)
    if seek_delay_seconds:
        env["OTA_TEST_SEEK_DELAY_SECONDS"] = str(seek_delay_seconds)
    return env
