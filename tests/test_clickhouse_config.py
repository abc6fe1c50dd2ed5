"""The server path differs from embedded chDB only in the DSN: settings, client options, and a real refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from ota_stream.config import load_settings
from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from tests.support.processes import free_port


def config(monkeypatch: pytest.MonkeyPatch, **env: str) -> ClickHouseConfig:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    return ClickHouseConfig.from_settings(settings.clickhouse, settings.pipeline.data_dir)


def test_embedded_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = config(monkeypatch, DATA_DIR=str(tmp_path))
    assert cfg.embedded
    assert cfg.client_kwargs() == {"dsn": f"chdb://{tmp_path.resolve()}/clickhouse"}
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
    assert cfg.embedded and cfg.client_kwargs() == {"dsn": f"chdb://{tmp_path}/ch"}


def test_unreachable_server_fails_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real connection attempt through the HTTP client to a closed port on 127.0.0.1."""
    cfg = config(monkeypatch, CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        ClickHouse(cfg).connect()
