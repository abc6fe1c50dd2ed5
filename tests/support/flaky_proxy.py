"""A flaky HTTP proxy in front of a worker, for client tests.

On a seeded schedule it drops connections before forwarding, answers 503 with Retry-After (seconds or an HTTP
date) without forwarding, and resets connections after the server processed the request (so the client never
learns that its events were accepted). It can also hold one accepted answer, so that a test kills the client
while the server has its batch and the client has no acknowledgement. Every exchange is logged with the event ids
sent and what the server did with them.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import requests

PASS, DROP, UNAVAILABLE, RESET, HELD = "pass", "drop", "unavailable", "reset", "held"
FORWARDED_HEADERS = ("content-type", "authorization", "x-api-key")


@dataclass
class Exchange:
    """One request the proxy received, and what happened to it."""

    number: int
    fault: str
    ids: list[str]
    upstream_status: int | None = None
    rejected: list[int] = field(default_factory=list)

    @property
    def accepted_ids(self) -> list[str]:
        """Ids the server accepted in this exchange (its 202 minus the batch's rejected indices)."""
        if self.upstream_status != 202:
            return []
        skip = set(self.rejected)
        return [event_id for index, event_id in enumerate(self.ids) if index not in skip]

    @property
    def rejected_ids(self) -> list[str]:
        return [self.ids[index] for index in self.rejected] if self.upstream_status == 202 else []


class FaultSchedule:
    """Blocks of 20 requests — 11 pass, 3 of each fault — shuffled by a seeded RNG, so every kind occurs."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._block: list[str] = []

    def next(self) -> str:
        if not self._block:
            self._block = [PASS] * 11 + [DROP] * 3 + [UNAVAILABLE] * 3 + [RESET] * 3
            self._rng.shuffle(self._block)
        return self._block.pop()


class FlakyProxy:
    def __init__(self, upstream: str, seed: int) -> None:
        self.upstream = upstream.rstrip("/")
        self._schedule = FaultSchedule(seed)
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="flaky-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._hold_armed = False
        self._held = threading.Event()
        self._release = asyncio.Event()
        self._unavailable = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.release()

        async def close() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def count(self, predicate: Callable[[Exchange], bool]) -> int:
        return sum(1 for exchange in self.exchanges() if predicate(exchange))

    def hold_next_accepted(self) -> threading.Event:
        """The next answer the server gives 202 is not passed on; the returned event is set once one is held."""
        with self._lock:
            self._hold_armed = True
        return self._held

    def release(self) -> None:
        """Ends a held exchange with a connection reset."""
        self._loop.call_soon_threadsafe(self._release.set)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serves one request; False once the connection is to end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(_header(line) for line in lines if ":" in line)
        assert "transfer-encoding" not in headers, "the proxy reads Content-Length bodies only"
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = request_line.split(" ")[1]
        exchange = self._record(body)
        if exchange.fault == DROP:
            return False  # closed without an answer
        if exchange.fault == UNAVAILABLE:
            writer.write(_response(503, b'{"error": {"code": "unavailable"}}', self._retry_after()))
            await writer.drain()
            return True
        forwarded = {name: value for name, value in headers.items() if name in FORWARDED_HEADERS}
        status, answer, retry_after = await asyncio.to_thread(self._forward, path, forwarded, body)
        self._note_answer(exchange, status, answer)
        if exchange.fault == HELD:
            self._held.set()
            await self._release.wait()
        if exchange.fault in (RESET, HELD):
            _reset(writer)
            return False
        writer.write(_response(status, answer, retry_after))
        await writer.drain()
        return True

    def _record(self, body: bytes) -> Exchange:
        try:
            ids = [str(event.get("event_id")) for event in json.loads(body)]
        except (ValueError, AttributeError, TypeError):
            ids = []
        with self._lock:
            exchange = Exchange(len(self._exchanges) + 1, self._schedule.next(), ids)
            self._exchanges.append(exchange)
        return exchange

    def _note_answer(self, exchange: Exchange, status: int, answer: bytes) -> None:
        with self._lock:
            exchange.upstream_status = status
            if status == 202:
                exchange.rejected = [entry["index"] for entry in json.loads(answer)["rejected"]]
                if self._hold_armed and not self._held.is_set():
                    self._hold_armed = False
                    exchange.fault = HELD

    def _retry_after(self) -> dict[str, str]:
        """Alternately delay-seconds and an HTTP date, both about a second away."""
        self._unavailable += 1
        if self._unavailable % 2:
            return {"Retry-After": "1"}
        return {"Retry-After": email.utils.formatdate(time.time() + 2, usegmt=True)}

    def _forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
        response = requests.post(f"{self.upstream}{path}", data=body, headers=headers, timeout=60)
        passed = {"Retry-After": response.headers["Retry-After"]} if "Retry-After" in response.headers else {}
        return response.status_code, response.content, passed


def _header(line: str) -> tuple[str, str]:
    name, value = line.split(":", 1)
    return name.strip().lower(), value.strip()


def _response(status: int, body: bytes, extra: dict[str, str]) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in extra.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _reset(writer: asyncio.StreamWriter) -> None:
    """Closes with RST instead of FIN: the client sees ECONNRESET, as when a middlebox drops the connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
