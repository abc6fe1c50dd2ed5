"""One error tree: every exception of the project derives from `OtaStreamError`, every `Unavailable` is a 503 with
Retry-After in one place, and ClickHouse errors are told apart by the driver's error code."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil

import clickhouse_connect
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from clickhouse_connect.driver.exceptions import DatabaseError

import ota_stream
from ota_stream.config import ConfigurationError
from ota_stream.errors import RETRY_AFTER_SECONDS, NotReady, OtaStreamError, Unavailable
from ota_stream.kafka.producer import KafkaUnavailable
from ota_stream.storage.errors import StorageUnavailable, is_schema_error, is_unavailable, refuses_rows
from ota_stream.web.errors import error_middleware
from tests.conftest import CHDB_DIR


def _project_exceptions() -> list[type[BaseException]]:
    found = []
    for module in pkgutil.walk_packages(ota_stream.__path__, "ota_stream."):
        if module.name in ("ota_stream.app", "ota_stream.cli") or module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.name:
                found.append(value)
    return found


def test_every_exception_of_the_project_derives_from_the_root() -> None:
    found = _project_exceptions()
    assert StorageUnavailable in found and KafkaUnavailable in found  # the walk saw the packages
    outside = [f"{e.__module__}.{e.__qualname__}" for e in found if not issubclass(e, OtaStreamError)]
    assert outside == ["ota_stream.config.ConfigurationError"]  # a SystemExit: an exit, not an error
    assert issubclass(ConfigurationError, SystemExit)


RAISED: dict[str, Exception] = {
    "storage": StorageUnavailable("ClickHouse is unavailable: Code: 210. NETWORK_ERROR at 10.0.0.7"),
    "kafka": KafkaUnavailable("Kafka did not acknowledge ota-events: RequestTimedOutError()"),
    "starting": NotReady("the worker is still reading its keys; retry"),
    "plain": Unavailable("Kafka did not store the change; retry"),
}


def answer_to(raised: Exception) -> tuple[int, str | None, object]:
    """What a real HTTP server with the API's error middleware answers when its route raises `raised`."""

    async def handler(request: web.Request) -> web.Response:
        raise raised

    async def go() -> tuple[int, str | None, object]:
        app = web.Application(middlewares=[error_middleware])
        app.router.add_get("/", handler)
        async with TestClient(TestServer(app)) as client:
            answer = await client.get("/")
            return answer.status, answer.headers.get("Retry-After"), await answer.json()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        ("storage", "ClickHouse is unavailable; retry later"),
        ("kafka", "Kafka is unavailable; retry later"),
        ("starting", "the worker is still reading its keys; retry"),
        ("plain", "Kafka did not store the change; retry"),
    ],
)
def test_everything_unavailable_is_a_503_with_retry_after(raised: str, message: str) -> None:
    status, retry_after, body = answer_to(RAISED[raised])
    assert (status, retry_after) == (503, str(RETRY_AFTER_SECONDS))
    assert body == {"error": {"code": "service_unavailable", "message": message, "details": []}}


def test_clickhouse_errors_are_classified_by_the_drivers_code() -> None:
    """With the server's text hidden (`show_clickhouse_errors=False`), the driver still gives the code: the
    classification must not depend on a `Code: N` in the message."""
    client = clickhouse_connect.get_client(dsn=f"chdb://{CHDB_DIR}", show_clickhouse_errors=False)
    try:
        with pytest.raises(DatabaseError) as unknown_table:
            client.query("SELECT * FROM ota_no_such_table")
        with pytest.raises(DatabaseError) as bad_date:
            client.query("SELECT toDate('not a date')")
    finally:
        client.close()
    assert "Code" not in str(unknown_table.value) and unknown_table.value.code == 60
    assert is_schema_error(unknown_table.value) and not refuses_rows(unknown_table.value)
    assert refuses_rows(bad_date.value) and not is_schema_error(bad_date.value)
    assert not is_unavailable(unknown_table.value) and not is_unavailable(bad_date.value)
    timeout = DatabaseError("The ClickHouse server returned an error", code=159)  # as the driver builds it
    assert is_unavailable(timeout)
