"""Keys on real worker processes (docs/security.md): who may call what, with no byte of another tenant's data in
any answer; revocation reaching a second worker within 5 s; keys surviving restarts; rate limits; hostile key input."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from aiokafka import AIOKafkaConsumer

from ota_stream.auth.keys import KeyScope
from ota_stream.web.routes import ROUTES as DECLARED
from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same, unique
from tests.support.keys import ADMIN, SECURED, make_key, revoke
from tests.support.processes import BIN, Worker, wait_for
from tests.support.scenario import Scenario, post_batches, rfc3339
from tests.support.worker_api import ENDPOINTS, every_endpoint, wait_processed

# A device id that only tenant "other" has: it must never appear in an answer to tenant "acme".
OTHERS_MARKER = "other-only-device-7f3a"


def event(tenant: str = "acme", app: str = "shop", device: str = "d1", **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant, "org_id": "mobile", "app_id": app, "device_id": device,
        "event_type": "update_installed", "timestamp": rfc3339(datetime.now(UTC) - timedelta(minutes=2)),
        "target_version": "2.0", **extra,
    }  # fmt: skip


@dataclass
class Keys:
    acme_read: str
    acme_ingest: str
    other_read: str
    narrowed: str  # ingest for acme/mobile/elsewhere only
    revoked: str


@pytest.fixture(scope="module")
def secured(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Keys]]:
    from tests.support.processes import unique_name

    worker = Worker(
        tmp_path_factory.mktemp("auth"),
        kafka,
        unique_name("ota-events"),
        unique_name("ota-group"),
        env=SECURED,
    )
    worker.start()
    try:
        keys = Keys(
            make_key(worker, "acme", "read")["key"],
            make_key(worker, "acme", "ingest")["key"],
            make_key(worker, "other", "read")["key"],
            make_key(worker, "acme", "ingest", org_id="mobile", app_id="elsewhere")["key"],
            "",
        )
        doomed = make_key(worker, "acme", "read", "ingest")
        revoke(worker, doomed["key_id"])
        keys.revoked = doomed["key"]
        other_ingest = make_key(worker, "other", "ingest")["key"]
        sent = [event(app="seeded", device=f"acme-{i}") for i in range(5)]
        post(worker, "/events/batch", keys.acme_ingest, sent)
        post(worker, "/events/batch", other_ingest, [event("other", device=OTHERS_MARKER)])
        wait_processed(worker, len(unique(sent)) + 1)
        yield worker, keys
    finally:
        worker.stop()


def post(worker: Worker, path: str, key: str | None, body: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = requests.post(f"{worker.url}{path}", json=body, headers=headers, timeout=30)
    return response


PATH_VALUES = {
    "version": "1.0.0",
    "device_id": "dev-1",
    "tenant_id": "acme",
    "org_id": "mobile",
    "app_id": "shop",
}
# Every route that needs a read key, as its declaration says (web/routes.py), its path filled in
READ_ROUTES = [
    re.sub(r"\{(\w+)\}", lambda name: PATH_VALUES[name[1]], route.template)
    for route in DECLARED
    if route.scope is KeyScope.READ
]


def call(
    worker: Worker, route: str, key: str | None, query: dict[str, str] | None = None
) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    if route == "POST /events":
        return requests.post(f"{worker.url}/events", json=event(), headers=headers, timeout=30)
    if route == "POST /events/batch":
        return requests.post(f"{worker.url}/events/batch", json=[event()], headers=headers, timeout=30)
    if route.startswith("POST /admin"):
        return requests.post(
            f"{worker.url}/admin/keys",
            json={"tenant_id": "acme", "scopes": ["read"]},
            headers=headers,
            timeout=30,
        )
    if route.startswith("GET /admin"):
        return requests.get(
            f"{worker.url}/admin/keys", params={"tenant_id": "acme"}, headers=headers, timeout=30
        )
    if route.startswith("DELETE /admin"):
        return requests.delete(f"{worker.url}/admin/keys/0123456789abcdef", headers=headers, timeout=30)
    params = {"tenant_id": "acme", "days": "1"} if route.startswith("/analytics") else {}
    if route == "/analytics/export":
        params["format"] = "ndjson"
    if route.endswith("/segments"):
        params["by"] = "channel"
    return requests.get(
        f"{worker.url}{route}", params={**params, **(query or {})}, headers=headers, timeout=30
    )


ROUTES = ["POST /events", "POST /events/batch", *READ_ROUTES, "POST /admin/keys", "GET /admin/keys",
          "DELETE /admin/keys/{key_id}"]  # fmt: skip
KINDS = ["none", "malformed", "unknown", "revoked", "other tenant's read", "ingest used to read",
         "read used to ingest", "narrowed to another app"]  # fmt: skip


def expected_status(route: str, kind: str) -> int:
    if kind in ("none", "malformed", "unknown", "revoked"):
        return 401
    ingest = route.startswith("POST /events")
    if kind == "other tenant's read":
        return 403  # no ingest scope, another tenant to read, no admin scope
    if kind == "ingest used to read":
        return 202 if ingest else 403
    if kind == "read used to ingest":
        # 1.0.0 has no data: /compare is the one read route that says so with a 404
        return 403 if ingest or "admin" in route else 404 if route.endswith("/compare") else 200
    if kind == "narrowed to another app":
        return {"POST /events": 403, "POST /events/batch": 202}.get(route, 403)
    raise AssertionError(kind)


def key_of(keys: Keys, kind: str) -> str | None:
    return {
        "none": None, "malformed": "not-a-key", "unknown": f"ota_{'0' * 16}_{'A' * 43}", "revoked": keys.revoked,
        "other tenant's read": keys.other_read, "ingest used to read": keys.acme_ingest,
        "read used to ingest": keys.acme_read, "narrowed to another app": keys.narrowed,
    }[kind]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("route", ROUTES)
def test_every_route_for_every_kind_of_key(secured: tuple[Worker, Keys], route: str, kind: str) -> None:
    worker, keys = secured
    response = call(worker, route, key_of(keys, kind))
    assert response.status_code == expected_status(route, kind), (route, kind, response.text[:300])
    assert OTHERS_MARKER not in response.text and "other/" not in response.text
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}
    if kind == "narrowed to another app" and route == "POST /events/batch":
        assert response.json()["accepted"] == 0
        assert response.json()["rejected"][0]["code"] == "forbidden"


def test_a_read_key_reads_its_own_tenant_only(secured: tuple[Worker, Keys]) -> None:
    worker, keys = secured
    for route in READ_ROUTES[:5]:
        own = requests.get(f"{worker.url}{route}", params={"days": "1"}, headers={"X-API-Key": keys.acme_read},
                           timeout=30)  # fmt: skip
        assert own.status_code == 200, own.text
        assert OTHERS_MARKER not in own.text
        assert own.headers["RateLimit-Limit"] == "40"
        named = call(worker, route, keys.acme_read)
        assert named.json() == own.json()  # tenant_id omitted is the key's tenant
        foreign = call(worker, route, keys.acme_read, {"tenant_id": "other"})
        assert foreign.status_code == 403 and OTHERS_MARKER not in foreign.text
    devices = call(worker, "/analytics/active-devices", keys.acme_read, {"app_id": "seeded"}).json()["data"]
    assert devices["total_active_devices"] == 5  # the seeded app's devices, counted through the key's tenant


def test_ingest_keys_supply_and_bound_the_tenant(secured: tuple[Worker, Keys]) -> None:
    worker, keys = secured
    bare = {k: v for k, v in event(device="bare").items() if k != "tenant_id"}
    assert post(worker, "/events", keys.acme_ingest, bare).status_code == 202
    mixed = [event(device="in-1"), event("other", device="out-1"), bare]
    response = post(worker, "/events/batch", keys.acme_ingest, mixed)
    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [(1, "forbidden")]
    narrowed = {
        k: v for k, v in event(app="elsewhere", device="n").items() if k not in ("tenant_id", "app_id")
    }
    assert (
        post(worker, "/events", keys.narrowed, narrowed).status_code == 202
    )  # the key supplies tenant and app


def test_loadgen_sends_with_an_ingest_key(secured: tuple[Worker, Keys]) -> None:
    worker, keys = secured
    command = [str(BIN / "ota-stream"), "loadgen", "--url", worker.url, "--events", "300", "--tenants", "1"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "401" in refused.stdout  # keys required: none given
    sent = subprocess.run([*command, "--key", keys.acme_ingest], capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "accepted 300, rejected 0, failed requests 0" in sent.stdout


def test_admin_lists_keys_without_secrets_and_revokes(secured: tuple[Worker, Keys]) -> None:
    worker, _ = secured
    made = make_key(worker, "acme", "read", name="listed")
    listing = requests.get(f"{worker.url}/admin/keys", params={"tenant_id": "acme"},
                           headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)  # fmt: skip
    assert listing.status_code == 200
    assert made["key"] not in listing.text and "secret" not in listing.text
    assert any(k["key_id"] == made["key_id"] and k["name"] == "listed" for k in listing.json()["data"])
    assert call(worker, "/analytics/adoption", made["key"]).status_code == 200
    revoke(worker, made["key_id"])
    assert call(worker, "/analytics/adoption", made["key"]).status_code == 401
    assert made["key"] not in worker.log_path.read_text() if worker.log_path else True


HOSTILE = [
    ("long", {"Authorization": "Bearer " + "x" * 5_000}),
    ("binary", {"X-API-Key": "ota_\udcff".encode("utf-8", "surrogateescape").decode("latin-1")}),
    ("unicode", {"X-API-Key": ("ключ-🔑-" + "a" * 40).encode().decode("latin-1")}),  # UTF-8 bytes on the wire
    ("two headers", {"Authorization": "Bearer a", "X-API-Key": "b"}),
    ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("empty bearer", {"Authorization": "Bearer "}),
    ("key shaped", {"X-API-Key": f"ota_{'f' * 16}_{'-' * 43}"}),
]


@pytest.mark.parametrize("name,headers", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_keys_get_401_never_500(
    secured: tuple[Worker, Keys], name: str, headers: dict[str, str]
) -> None:
    worker, _ = secured
    for method, path in (
        ("GET", "/analytics/adoption?tenant_id=acme"),
        ("POST", "/events"),
        ("GET", "/admin/keys"),
    ):
        response = requests.request(method, f"{worker.url}{path}", headers=headers, json=event(), timeout=30)
        assert response.status_code == 401, (name, path, response.status_code, response.text[:200])


def test_a_header_over_the_http_limit_is_a_4xx(secured: tuple[Worker, Keys]) -> None:
    """aiohttp's parser refuses header fields over 8 KiB before any route runs: a 400, never a 500."""
    worker, _ = secured
    response = requests.get(
        f"{worker.url}/analytics/adoption", headers={"X-API-Key": "x" * 20_000}, timeout=30
    )
    assert response.status_code == 400


@pytest.mark.parametrize("key_id", ["..", "%00", "0123456789ABCDEF", "a" * 500, "ключ", "0123456789abcdef"])
def test_odd_key_ids_in_paths(secured: tuple[Worker, Keys], key_id: str) -> None:
    worker, _ = secured
    response = requests.delete(f"{worker.url}/admin/keys/{key_id}", headers={"Authorization": f"Bearer {ADMIN}"},
                               timeout=30)  # fmt: skip
    assert response.status_code == 404, response.text


def test_revocation_reaches_a_second_worker_within_5_seconds_and_keys_survive_restarts(
    make_worker: WorkerFactory,
) -> None:
    first, second = make_worker("w1", **SECURED), make_worker("w2", **SECURED)
    first.start()
    second.start()
    made = make_key(first, "acme", "read")
    wait_for(lambda: call(second, "/analytics/adoption", made["key"]).status_code == 200, 10, "the key on w2")
    kept = make_key(first, "acme", "read")
    revoke(first, made["key_id"])
    revoked_at = time.monotonic()
    wait_for(lambda: call(second, "/analytics/adoption", made["key"]).status_code == 401, 5, "the revocation")
    assert time.monotonic() - revoked_at < 5
    for worker in (first, second):
        worker.stop()
    for worker in (first, second):
        worker.start()
    for worker in (first, second):
        assert call(worker, "/analytics/adoption", kept["key"]).status_code == 200
        assert call(worker, "/analytics/adoption", made["key"]).status_code == 401


def test_rate_limits_answer_429_and_recover(make_worker: WorkerFactory) -> None:
    """Token buckets hold a burst of twice the rate. On a busy machine requests are slow and the bucket refills
    between them, so the test asks only what a token bucket guarantees: at least the burst passes, at most the
    burst plus what refilled while it was asking, and 2 seconds' worth (a full burst) never fits at once."""
    worker = make_worker(
        **SECURED, RATE_LIMIT_READ_REQUESTS_PER_SECOND="1", RATE_LIMIT_INGEST_EVENTS_PER_SECOND="5"
    )
    worker.start()
    read = make_key(worker, "acme", "read")["key"]
    started = time.monotonic()
    answers: list[requests.Response] = []
    while len(answers) < 50 and 429 not in (a.status_code for a in answers):
        answers.append(call(worker, "/analytics/adoption", read))
    elapsed = time.monotonic() - started
    limited = answers[-1]
    passed = len(answers) - 1
    assert limited.status_code == 429 and {a.status_code for a in answers[:-1]} == {200}, answers
    assert 2 <= passed <= 2 + int(elapsed) + 1, (passed, elapsed)  # burst of 2, refilled at 1/s
    assert limited.headers["RateLimit-Limit"] == "2" and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    time.sleep(int(limited.headers["Retry-After"]))  # the wait the answer asked for
    assert call(worker, "/analytics/adoption", read).status_code == 200

    ingest = make_key(worker, "acme", "ingest")["key"]
    too_many = post(worker, "/events/batch", ingest, [event(device=f"r{i}") for i in range(11)])
    assert too_many.status_code == 429  # more than the burst of 10 at once: never fits
    first = post(worker, "/events/batch", ingest, [event(device=f"a{i}") for i in range(10)])
    sent = time.monotonic()
    assert first.status_code == 202 and int(first.headers["RateLimit-Remaining"]) == 0
    second = post(worker, "/events/batch", ingest, [event(device=f"b{i}") for i in range(10)])
    if time.monotonic() - sent < 2:  # a full burst takes 2 s to refill
        assert second.status_code == 429
        time.sleep(int(second.headers["Retry-After"]))
        second = post(worker, "/events/batch", ingest, [event(device=f"c{i}") for i in range(10)])
    assert second.status_code == 202


def test_pseudonymised_device_ids_change_no_count_and_are_stored_nowhere(make_worker: WorkerFactory) -> None:
    worker = make_worker(DEVICE_ID_HMAC_KEY=secrets.token_hex(16))
    worker.start()
    now = datetime.now(UTC)
    events = Scenario(now=now, tenants=("acme", "globex"), devices_per_app=4).build()
    raw_ids = {e["device_id"] for e in events}
    post_batches(worker.url, events)
    wait_processed(worker, len(unique(events)))
    for tenant in ("acme", "globex"):
        window = Window(tenant, now - timedelta(days=60), now + timedelta(hours=1))
        answers = every_endpoint(worker, window)
        for (name, extra, compute), got in zip(ENDPOINTS, answers.values(), strict=True):
            assert_same(got, compute(events, window, *extra.values()), name)
        assert not any(raw in str(answers) for raw in raw_ids)
    # The device drill-down takes the raw id and finds the device under its pseudonym.
    tenant, device = sorted({(e["tenant_id"], e["device_id"]) for e in events})[0]
    expected = [e for e in unique(events) if (e["tenant_id"], e["device_id"]) == (tenant, device)]
    response = requests.get(f"{worker.url}/analytics/devices/{device}/events",
                            params={"tenant_id": tenant, "days": "90", "limit": "1000"}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    found = response.json()["data"]
    assert 0 < len(expected) <= 1000 and len(found) == len(expected)
    assert {e.get("event_id") for e in found} == {e.get("event_id") for e in expected}
    assert device not in response.text
    worker.stop()
    stored = dump_database(worker) + dump_topic(worker)
    assert len(stored) > 10_000  # the scan saw the data
    assert [raw for raw in raw_ids if raw in stored] == []


def dump_database(worker: Worker) -> str:
    """Every row of every table of the worker's database, as text (chDB opens a folder in one process only)."""
    script = (
        "import sys\n"
        "from ota_stream.storage.client import ClickHouse, ClickHouseConfig\n"
        "ch = ClickHouse(ClickHouseConfig(sys.argv[1], 'analytics')); ch.connect()\n"
        "for (name,) in ch.query_rows('SELECT name FROM system.tables WHERE database = currentDatabase()'):\n"
        "    print(ch.client.raw_query(f'SELECT * FROM `{name}` FORMAT TSV').decode(errors='replace'))\n"
    )
    dsn = f"chdb://{(worker.data_dir / 'clickhouse').resolve()}"
    return subprocess.run(
        [sys.executable, "-c", script, dsn], check=True, capture_output=True, text=True
    ).stdout


def dump_topic(worker: Worker) -> str:
    async def read() -> str:
        consumer = AIOKafkaConsumer(worker.topic, bootstrap_servers=worker.kafka.bootstrap,
                                    auto_offset_reset="earliest", consumer_timeout_ms=2000)  # fmt: skip
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=5000)
            return "".join((r.value or b"").decode(errors="replace") for rs in batches.values() for r in rs)
        finally:
            await consumer.stop()

    return asyncio.run(read())
