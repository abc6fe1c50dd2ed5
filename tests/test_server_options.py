"""How the HTTP servers read requests (issue 32, findings 3 and 7), in an ingest process in front of a worker and in
a worker that serves clients itself (INGEST_PROCESSES=0): connections that trickle their head or their body are
closed within HTTP_HEADER_TIMEOUT_SECONDS and HTTP_BODY_TIMEOUT_SECONDS, an aborted upload is one INFO line, not an
ERROR traceback, and an encoded body is a 415 before aiohttp would decode it."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support.processes import Worker, unique_name

HEADER_TIMEOUT, BODY_TIMEOUT = 2.0, 2.0
SLACK = 20.0  # a busy machine closes late; never early
CLIENTS = 250
TIMEOUTS = {
    "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    "HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
}
LAYOUTS = {"front": {}, "direct": {"INGEST_PROCESSES": "0"}}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def served(
    request: pytest.FixtureRequest, kafka: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    env = {**TIMEOUTS, **LAYOUTS[request.param]}
    worker = Worker(tmp_path_factory.mktemp(request.param), kafka, unique_name("ota-events"), unique_name("ota-group"),
                    env=env)  # fmt: skip
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def connect(worker: Worker, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", worker.port), timeout=10)
    sock.sendall(head)
    sock.setblocking(False)
    return sock


def read_until_closed(sock: socket.socket, received: bytearray) -> bool:
    """Take what the server sent; whether it has closed the connection."""
    try:
        while data := sock.recv(65536):
            received += data
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def trickle(
    sockets: list[socket.socket], started: float, limit: float, byte: bytes
) -> list[tuple[float, bytes]]:
    """Send `byte` on every open socket every 0.2 s until each is closed, for at most `limit` seconds from `started`
    (before they connected); per socket, the seconds until it was closed (inf: never) and what the server sent."""
    received = [bytearray() for _ in sockets]
    closed_at = [float("inf")] * len(sockets)
    while float("inf") in closed_at and time.monotonic() - started < limit:
        for i, sock in enumerate(sockets):
            if closed_at[i] != float("inf"):
                continue
            try:
                if not read_until_closed(sock, received[i]):
                    sock.send(byte)
                    continue
            except OSError:
                pass
            closed_at[i] = time.monotonic() - started
        time.sleep(0.2)
    return [(at, bytes(data)) for at, data in zip(closed_at, received, strict=True)]


def trickled(served: Worker, start: bytes, count: int, timeout: float, byte: bytes) -> list[bytes]:
    """Open `count` connections that send `start` and then `byte` every 0.2 s; each must be closed by the server,
    not before `timeout` (nor much after, on a busy machine); what each was answered. Meanwhile another client is
    served."""
    started = time.monotonic()
    sockets = [connect(served, start) for _ in range(count)]
    try:
        assert requests.get(f"{served.url}/health", timeout=30).status_code == 200
        ends = trickle(sockets, started, timeout + SLACK, byte)
    finally:
        for sock in sockets:
            sock.close()
    assert [at for at, _ in ends if at == float("inf")] == [], "connections still open"
    assert min(at for at, _ in ends) >= timeout * 0.9, min(ends)
    return [answer for _, answer in ends]


def test_connections_that_trickle_their_head_are_closed(served: Worker) -> None:
    answers = trickled(served, b"POST /events HTTP/1.1\r\nHost: x\r\n", CLIENTS, HEADER_TIMEOUT, b"X")
    assert set(answers) == {b""}  # closed without an answer


def head(path: str, content_type: str, length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# Read by an ingest process (or the worker without one); read by the worker, passed on by an ingest process.
BATCH_HEAD = head("/events/batch", "application/x-ndjson", 100_000)
KEYS_HEAD = head("/admin/keys", "application/json", 10_000)


@pytest.mark.parametrize("start", [BATCH_HEAD, KEYS_HEAD], ids=["ingest", "passed on"])
def test_bodies_that_trickle_get_408_and_are_closed(served: Worker, start: bytes) -> None:
    answers = trickled(served, start, CLIENTS // 5, BODY_TIMEOUT, b" ")
    assert {answer.split(b"\r\n", 1)[0] for answer in answers} == {b"HTTP/1.1 408 Request Timeout"}
    assert all(b'"code":"request_timeout"' in answer for answer in answers)


REPEATS = 20


def assert_logged_at_info_a_line_an_interval(
    served: Worker, send_one: Callable[[], None], marker: str
) -> None:
    """Send a bad request REPEATS times, then one every 0.5 s until a line holds `marker` (a line held back by an
    earlier test shows once 10 s have passed): the lines are INFO, fewer than the requests, and no ERROR or
    traceback was logged meanwhile (logs.py: RepeatLimiter)."""
    log = served.log_path
    assert log is not None
    logged_before = len(log.read_text().splitlines())

    def lines() -> list[dict[str, Any]]:
        return [
            json.loads(line) for line in log.read_text().splitlines()[logged_before:] if line.startswith("{")
        ]

    def marked() -> list[dict[str, Any]]:
        return [line for line in lines() if marker in line["message"]]

    for _ in range(REPEATS):
        send_one()
    sent, deadline = REPEATS, time.monotonic() + 30
    while not marked() and time.monotonic() < deadline:
        send_one()
        sent += 1
        time.sleep(0.5)
    assert marked(), f"nothing logged with {marker!r}"
    assert {line["level"] for line in marked()} == {"INFO"}
    assert len(marked()) < sent
    http = [line for line in lines() if line["logger"].startswith(("aiohttp", "ota_stream.web"))]
    errors = [line for line in http if line["level"] in ("ERROR", "CRITICAL") or "exc_info" in line]
    assert errors == [], errors[:2]


@pytest.mark.parametrize("start", [BATCH_HEAD, KEYS_HEAD], ids=["ingest", "passed on"])
def test_aborted_uploads_are_logged_at_info_a_line_an_interval(served: Worker, start: bytes) -> None:
    """Each was an ERROR traceback, so that clients that abort on purpose could flood the logs."""

    def abort() -> None:
        sock = connect(served, start + b'{"tenant_id": "acme", ')
        time.sleep(0.05)
        sock.close()

    assert_logged_at_info_a_line_an_interval(served, abort, "before its body ended")


MALFORMED = {
    "overlong request line": b"GET /health?" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "overlong header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 9000 + b"\r\n\r\n",
    "bad chunk": b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("request_bytes", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_requests_are_logged_at_info_a_line_an_interval(
    served: Worker, request_bytes: bytes
) -> None:
    """aiohttp answers them 400 before any route and logged each as an ERROR with a traceback."""

    def send_one() -> None:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(request_bytes)
            assert sock.recv(100).split(b"\r\n")[0].endswith(b" 400 Bad Request")

    assert_logged_at_info_a_line_an_interval(served, send_one, "refused a malformed request")


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
def test_an_encoded_body_is_a_415_in_the_error_shape(served: Worker, coding: str) -> None:
    """Also where the worker's own server takes the request: aiohttp no longer decodes bodies first (br was its
    plain-text 400, gzip was read under the compressed Content-Length)."""
    body = gzip.compress(b'{"org_id": "mobile"}\n' * 100)
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": coding}
    answer = requests.post(f"{served.url}/events/batch", data=body, headers=headers, timeout=30)
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"]["details"] == [
        {"field": "Content-Encoding", "message": "must be identity or left out"}
    ]
