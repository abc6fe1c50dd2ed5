"""The worker's tables open their RocksDB databases with the bounded options of LIVE_ROCKSDB_*, as RocksDB itself
reports them: the OPTIONS file it writes in each database (write buffers) and its block-cache-capacity property.
No broker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import faust
from faust.stores.rocksdb import Store

from ota_stream.alerts.state import AlertStates
from ota_stream.tables.live import LiveWindows
from ota_stream.tables.store import MIB, store_options


def open_database(table: Any, path: Path) -> Any:
    """A database opened as the table's store opens each partition's, with the options the table gave it."""
    store = table.data
    assert isinstance(store, Store)
    return store.rocksdb_options.open(path)


def applied(path: Path) -> str:
    """The options RocksDB applied to the database in `path`, from the newest OPTIONS file it wrote."""
    return max(path.glob("OPTIONS-*"), key=lambda p: int(p.name.split("-")[1])).read_text()


def test_live_and_alert_tables_open_rocksdb_with_bounded_caches_and_buffers(tmp_path: Path) -> None:
    app = faust.App("store-test", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    live = LiveWindows(app, 60, 3600, 4, store=store_options(block_cache_mib=3, write_buffer_mib=2))
    alerts = AlertStates(app, 4, set, store=store_options(block_cache_mib=3, write_buffer_mib=2))
    for name, table in (("live", live.table), ("alerts", alerts.table)):
        path = tmp_path / name
        db = open_database(table, path)
        assert db.property_int_value("rocksdb.block-cache-capacity") == 3 * MIB
        db.close()
        options = applied(path)
        assert re.search(rf"^\s*write_buffer_size={2 * MIB}$", options, re.MULTILINE), options
        assert re.search(r"^\s*max_write_buffer_number=2$", options, re.MULTILINE), options


def test_tables_are_bounded_when_no_options_are_given(tmp_path: Path) -> None:
    """A table made without `store` (as another module may) still gets the defaults, not Faust's 2 GiB cache."""
    app = faust.App("store-default", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = AlertStates(app, 4, set, name="other-state").table
    db = open_database(table, tmp_path / "db")
    assert db.property_int_value("rocksdb.block-cache-capacity") == 4 * MIB
    db.close()
    assert re.search(rf"^\s*write_buffer_size={4 * MIB}$", applied(tmp_path / "db"), re.MULTILINE)
