"""The server path differs from embedded chDB in the DSN and chDB's memory bounds: settings, client options, the
bounds as chDB reports them, and a real refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ota_stream.config import load_settings
from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from tests.support.processes import free_port

MIB = 1024 * 1024
BOUNDS = {  # the defaults: CLICKHOUSE_CHDB_MAX_MEMORY_MIB=1024, CLICKHOUSE_CHDB_CACHE_MIB=16
    "max_server_memory_usage": 1024 * MIB,
    "mark_cache_size": 16 * MIB,
    "primary_index_cache_size": 16 * MIB,
    "index_mark_cache_size": 16 * MIB,
    "uncompressed_cache_size": 0,
}


def config(monkeypatch: pytest.MonkeyPatch, **env: str) -> ClickHouseConfig:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    return ClickHouseConfig.from_settings(settings.clickhouse, settings.pipeline.data_dir)


def test_embedded_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = config(monkeypatch, DATA_DIR=str(tmp_path))
    assert cfg.embedded
    assert cfg.client_kwargs() == {"dsn": f"chdb://{tmp_path.resolve()}/clickhouse", "chdb_options": BOUNDS}
    assert cfg.database == "analytics"


def test_server_dsn_carries_credentials_and_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(
        monkeypatch,
        CLICKHOUSE_URL="https://ch.example.internal:8443",
        CLICKHOUSE_USERNAME="ota",
        CLICKHOUSE_PASSWORD="s3cret",
        CLICKHOUSE_DATABASE="ota_prod",
    )
    assert not cfg.embedded
    assert cfg.client_kwargs() == {
        "dsn": "https://ch.example.internal:8443",
        "autogenerate_session_id": False,  # concurrent queries from worker threads need no session
        "username": "ota",
        "password": "s3cret",
    }
    assert cfg.database == "ota_prod"


def test_explicit_chdb_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = config(monkeypatch, CLICKHOUSE_URL=f"chdb://{tmp_path}/ch")
    assert cfg.embedded and cfg.client_kwargs() == {"dsn": f"chdb://{tmp_path}/ch", "chdb_options": BOUNDS}


# A fresh process: chDB starts one engine per process, with the settings of its first connection.
REPORTED = """
import json, sys
from ota_stream.config import load_settings
from ota_stream.storage.client import ClickHouse, ClickHouseConfig
settings = load_settings()
ch = ClickHouse(ClickHouseConfig.from_settings(settings.clickhouse, settings.pipeline.data_dir))
ch.connect()
print(json.dumps(dict(ch.query_rows(
    "SELECT name, value FROM system.server_settings WHERE name IN {names:Array(String)}",
    {"names": sys.argv[1:]},
))))
"""


def test_chdb_reports_the_memory_bounds_it_was_started_with(tmp_path: Path) -> None:
    env = {
        "DATA_DIR": str(tmp_path),
        "CLICKHOUSE_CHDB_MAX_MEMORY_MIB": "200",
        "CLICKHOUSE_CHDB_CACHE_MIB": "8",
    }
    names = [
        "max_server_memory_usage",
        "mark_cache_size",
        "primary_index_cache_size",
        "index_mark_cache_size",
    ]
    names.append("uncompressed_cache_size")
    done = subprocess.run(
        [sys.executable, "-c", REPORTED, *names],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    assert reported == {
        "max_server_memory_usage": str(200 * MIB),
        "mark_cache_size": str(8 * MIB),
        "primary_index_cache_size": str(8 * MIB),
        "index_mark_cache_size": str(8 * MIB),
        "uncompressed_cache_size": "0",
    }


def test_unreachable_server_fails_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real connection attempt through the HTTP client to a closed port on 127.0.0.1."""
    cfg = config(monkeypatch, CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        ClickHouse(cfg).connect()
