"""A real webhook receiver for alert tests: an HTTP server on 127.0.0.1 that records every delivery it is sent and
answers each path as the test says (200, or 500 for a while, or forever)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int  # the status this receiver answered
    received_at: float  # time.time()

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def notification_id(self) -> str:
        return self.headers["X-OTA-Notification-Id"]

    def signed_with(self, secret: str) -> bool:
        """The check docs/alerts.md shows receivers: HMAC-SHA256 of the raw body, compared in constant time."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("X-OTA-Signature", ""))


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.failing: set[str] = set()  # paths answered 500
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = 500 if self.path in receiver.failing else 200
                    receiver.deliveries.append(
                        Delivery(self.path, dict(self.headers.items()), body, status, time.time())
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, path: str, answered: int | None = 200) -> list[Delivery]:
        """Deliveries to `path` (those answered `answered`; None for all), in arrival order."""
        with self._lock:
            return [d for d in self.deliveries if d.path == path and answered in (None, d.answered)]

    def notifications(self, path: str) -> dict[str, list[Delivery]]:
        """Accepted deliveries to `path` by notification id: more than one per id is a retry a receiver drops."""
        found: dict[str, list[Delivery]] = {}
        for delivery in self.at(path):
            found.setdefault(delivery.notification_id, []).append(delivery)
        return found

    def states(self, path: str) -> list[str]:
        """The states of the distinct notifications accepted at `path`, in order of first arrival."""
        return [deliveries[0].payload["state"] for deliveries in self.notifications(path).values()]

    def fail(self, path: str, failing: bool = True) -> None:
        with self._lock:
            (self.failing.add if failing else self.failing.discard)(path)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
