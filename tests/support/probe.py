"""The adversarial probe of a running worker (issue 32), as a table that stays true: a worker with two tenants and
keys of every scope, and attempts sent byte for byte as written (http.client: no client-side normalising of paths,
repeated headers kept), each with the answer it must get.

Data markers are device ids that only one tenant, or one app, has: an answer that must not reach them must not hold
them, whatever its status.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.support.keys import ADMIN, make_key, revoke
from tests.support.processes import Worker
from tests.support.scenario import rfc3339
from tests.support.worker_api import wait_processed

ACME_SHOP = "acme-shop-dev"  # devices of acme/mobile/shop
ACME_CHAT = "acme-chat-dev"  # devices of acme/mobile/chat: outside keys narrowed to the shop app
GLOBEX = "globex-shop-dev"  # devices of globex/mobile/shop: outside every acme key
DEVICES = 3


def event(tenant: str, app: str, device: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant, "org_id": "mobile", "app_id": app, "device_id": device,
        "event_type": "update_installed", "timestamp": rfc3339(datetime.now(UTC) - timedelta(minutes=2)),
        "current_version": "1.0.0", "target_version": "2.0.0", **extra,
    }  # fmt: skip


# name -> (tenant, scopes, narrowing): a key of every scope for both tenants, and keys narrowed to one app.
KEYS: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "acme-ingest": ("acme", ("ingest",), {}),
    "acme-read": ("acme", ("read",), {}),
    "acme-admin": ("acme", ("admin",), {}),
    "acme-all": ("acme", ("ingest", "read", "admin"), {}),
    "acme-revoked": ("acme", ("read", "admin"), {}),
    "shop-ingest": ("acme", ("ingest",), {"org_id": "mobile", "app_id": "shop"}),
    "shop-read": ("acme", ("read",), {"org_id": "mobile", "app_id": "shop"}),
    "shop-admin": ("acme", ("admin",), {"org_id": "mobile", "app_id": "shop"}),
    "globex-ingest": ("globex", ("ingest",), {}),
    "globex-read": ("globex", ("read",), {}),
    "globex-admin": ("globex", ("admin",), {}),
}


@dataclass
class Probed:
    """The running worker, its keys by name (and their records), and the events it holds."""

    worker: Worker
    keys: dict[str, str]
    records: dict[str, dict[str, Any]]
    sent: list[dict[str, Any]]

    def ids(self, text: str) -> str:
        """`text` with each `{key name}` replaced by that key's id."""
        return text.format_map({name: r["key_id"] for name, r in self.records.items()})

    def secrets(self, text: str) -> str:
        """`text` with each `<key name>` replaced by that key itself (for headers that carry a second key)."""
        for name, key in self.keys.items():
            text = text.replace(f"<{name}>", key)
        return text

    def key(self, name: str | None) -> str | None:
        if name is None:
            return None
        return ADMIN if name == "bootstrap" else self.keys[name]


def seeded(worker: Worker, extra_events: list[dict[str, Any]] | None = None) -> Probed:
    """Make every key through the admin API, revoke one, and store events of both tenants through ingest."""
    records = {
        name: make_key(worker, tenant, *scopes, **narrow) for name, (tenant, scopes, narrow) in KEYS.items()
    }
    revoke(worker, records["acme-revoked"]["key_id"])
    probed = Probed(worker, {name: str(r["key"]) for name, r in records.items()}, records, [])
    for key, tenant, app, marker in (
        ("acme-ingest", "acme", "shop", ACME_SHOP),
        ("acme-ingest", "acme", "chat", ACME_CHAT),
        ("globex-ingest", "globex", "shop", GLOBEX),
    ):
        batch = [event(tenant, app, f"{marker}-{i}") for i in range(DEVICES)]
        probed.sent += batch
        answer = send(probed, Attempt("seed", "POST", "/events/batch", key, body=batch))
        assert answer.status == 202 and answer.json()["accepted"] == DEVICES, answer.text
    for item in extra_events or []:
        answer = send(probed, Attempt("seed", "POST", "/events", "acme-ingest", body=item))
        assert answer.status == 202, answer.text
        probed.sent.append(item)
    wait_processed(worker, len(probed.sent))
    return probed


@dataclass(frozen=True)
class Attempt:
    """One request of the probe and the answer it must get."""

    name: str
    method: str
    target: str  # path and query, sent exactly as written but for `{key name}`, replaced by the key's id
    key: str | None = None  # a name of KEYS, "bootstrap" for ADMIN_API_KEY, None for no key
    status: int = 200
    body: Any = None  # JSON unless bytes
    headers: tuple[tuple[str, str], ...] = ()  # sent as given, repeated names included; `<key name>`: the key
    key_header: str = "Authorization"  # or X-API-Key
    absent: tuple[str, ...] = (
        GLOBEX,
    )  # must not appear in the answer, whatever its status ({key name}: its id)
    present: tuple[str, ...] = ()  # must appear in the answer (the data is there to be leaked)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = self.raw.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.raw)


def send(probed: Probed, attempt: Attempt, timeout: float = 60) -> Answer:
    """The attempt over a connection of its own, with nothing added but Host and Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", probed.worker.port, timeout=timeout)
    try:
        connection.putrequest(attempt.method, probed.ids(attempt.target), skip_accept_encoding=True)
        key = probed.key(attempt.key)
        headers = list(attempt.headers)
        if key is not None:
            headers.insert(
                0, (attempt.key_header, f"Bearer {key}" if attempt.key_header == "Authorization" else key)
            )
        body = attempt.body
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.append(("Content-Type", "application/json"))
        for name, value in headers:
            connection.putheader(name, probed.secrets(value))
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def check(probed: Probed, attempt: Attempt) -> Answer:
    """Send the attempt and assert its answer: status, error shape, and which markers it holds."""
    answer = send(probed, attempt)
    assert answer.status == attempt.status, (attempt.name, answer.status, answer.text[:400])
    for marker in map(probed.ids, attempt.absent):
        assert marker not in answer.text, (attempt.name, marker, answer.text[:400])
    for marker in map(probed.ids, attempt.present):
        assert marker in answer.text, (attempt.name, marker, answer.text[:400])
    if answer.status >= 400:
        assert set(answer.json()["error"]) == {"code", "message", "details"}, answer.text
    if answer.status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    return answer


def metric(probed: Probed, name: str, **labels: str) -> float:
    """One sample of the worker's /metrics (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    page = requests.get(f"{probed.worker.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
