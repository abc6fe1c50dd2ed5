"""Test-only, never imported by the worker's own code: faults that fault tests inject into a worker process.

tests/support/fault_points.py puts this folder on a worker's PYTHONPATH; Python imports `sitecustomize` at start,
which patches the worker's classes according to these variables (production settings hold no test hook):

- `OTA_TEST_CLICKHOUSE_FAILPOINT_FILE`: while this file exists, every ClickHouse call fails as a server that is
  down does (a connection error, which storage/errors.py classifies as unavailable);
- `OTA_TEST_SEEK_DELAY_SECONDS`: each seek of Faust's consumer that ends an assignment waits this long first, in
  the consumer's thread, as on a loaded broker.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any


def _fail_while(failpoint: Path) -> None:
    from ota_stream.storage.client import ClickHouse

    connected = ClickHouse.client

    def client(self: ClickHouse) -> Any:
        if failpoint.exists():
            raise ConnectionError(f"ClickHouse unavailable: failure point {failpoint} is set")
        return connected.__get__(self)

    ClickHouse.client = property(client)  # type: ignore[assignment,method-assign]


def _slow_seeks(seconds: float) -> None:
    from ota_stream.kafka.consumer import SafeConsumerThread

    seek = SafeConsumerThread.seek_to_committed

    async def slow(self: SafeConsumerThread) -> Any:
        if self.consumer.flow_active:
            logging.getLogger("tests.faults").warning("test fault: a seek held %ss", seconds)
            await self.call_thread(asyncio.sleep, seconds)
        return await seek(self)

    SafeConsumerThread.seek_to_committed = slow  # type: ignore[method-assign]


if os.environ.get("OTA_TEST_CLICKHOUSE_FAILPOINT_FILE"):
    _fail_while(Path(os.environ["OTA_TEST_CLICKHOUSE_FAILPOINT_FILE"]))
if float(os.environ.get("OTA_TEST_SEEK_DELAY_SECONDS") or 0):
    _slow_seeks(float(os.environ["OTA_TEST_SEEK_DELAY_SECONDS"]))
