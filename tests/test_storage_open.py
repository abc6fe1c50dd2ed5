"""ClickHouseService opens ClickHouse once, even when a caller gives up waiting (the health check's 2 s timeout)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from ota_stream.config import ClickHouseSettings
from ota_stream.storage.client import ClickHouseConfig
from ota_stream.storage.errors import StorageUnavailable
from ota_stream.storage.service import ClickHouseService


async def test_a_caller_that_times_out_does_not_start_a_second_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = ClickHouseService(ClickHouseConfig.from_settings(ClickHouseSettings(), tmp_path), 365)
    opened, release = [], threading.Event()

    def slow_open() -> None:  # stands in for connect + migrate, which may outlast a caller's patience
        opened.append(threading.get_ident())
        assert release.wait(60)

    monkeypatch.setattr(storage, "_open", slow_open)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(storage.ready(), 0.05)
    second = asyncio.ensure_future(storage.ready())  # before this fix it began a second opening here
    await asyncio.sleep(0)
    release.set()
    assert await second is storage.clickhouse
    assert len(opened) == 1


async def test_a_failed_opening_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = ClickHouseService(ClickHouseConfig.from_settings(ClickHouseSettings(), tmp_path), 365)
    attempts: list[int] = []

    def flaky_open() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("ClickHouse is down")

    monkeypatch.setattr(storage, "_open", flaky_open)
    with pytest.raises(StorageUnavailable):  # a connection refused is the storage being away: 503 upstream
        await storage.ready()
    assert await storage.ready() is storage.clickhouse
    assert len(attempts) == 2
