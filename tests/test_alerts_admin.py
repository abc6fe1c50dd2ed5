"""`/admin/alerts` on a real worker with keys required and private webhooks refused (the default): hostile rule
input is a 422 naming the field (never a 500) and stores nothing; the admin scope and the key's tenant decide who
may make, list and delete which rules (docs/security.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.alerts import (
    ADMIN_HEADERS,
    ALERT_ENV,
    HOSTILE_URLS,
    MALFORMED_BODIES,
    TENANT,
    malformed,
    refused_fields,
    wait_rules_ready,
)
from tests.support.processes import Worker, unique_name

OTHER = "another-tenant"
GOOD = {"tenant_id": TENANT, "metric": "failure_rate", "threshold": 20, "window_minutes": 10, "min_events": 5,
        "webhook_url": "https://93.184.215.14/hooks/ota"}  # fmt: skip  # a public address: no DNS needed


@pytest.fixture(scope="module")
def admin_worker(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = Worker(
        tmp_path_factory.mktemp("alerts-admin"), kafka, unique_name("ota-events"), unique_name("ota-group"),
        env={**ALERT_ENV, "ALERT_WEBHOOK_ALLOW_PRIVATE": "false", "RATE_LIMIT_READ_REQUESTS_PER_SECOND": "0"},
    )  # fmt: skip
    worker.start()
    try:
        wait_rules_ready(worker)
        yield worker
    finally:
        worker.stop()


def key(worker: Worker, tenant: str, scope: str) -> dict[str, str]:
    made = requests.post(f"{worker.url}/admin/keys", json={"tenant_id": tenant, "scopes": [scope]},
                         headers=ADMIN_HEADERS, timeout=30)  # fmt: skip
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['data']['key']}"}


def post(
    worker: Worker, body: Any, headers: dict[str, str] = ADMIN_HEADERS, **kwargs: Any
) -> requests.Response:
    if "data" not in kwargs:
        kwargs["json"] = body
    return requests.post(f"{worker.url}/admin/alerts", headers=headers, timeout=30, **kwargs)


def listed(worker: Worker, tenant: str | None = None) -> list[dict[str, Any]]:
    params = {"tenant_id": tenant} if tenant else {}
    answer = requests.get(f"{worker.url}/admin/alerts", params=params, headers=ADMIN_HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_webhook_urls_are_refused(admin_worker: Worker, url: str) -> None:
    assert refused_fields(post(admin_worker, {**GOOD, "webhook_url": url})) == {"webhook_url"}


HOSTILE_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"threshold": -1}, "threshold"), ({"threshold": 100}, "threshold"), ({"threshold": 1e308}, "threshold"),
    ({"threshold": "20"}, "threshold"), ({"threshold": True}, "threshold"), ({"threshold": None}, "threshold"),
    ({"window_minutes": 0}, "window_minutes"), ({"window_minutes": -5}, "window_minutes"),
    ({"window_minutes": 10**30}, "window_minutes"), ({"window_minutes": 1.5}, "window_minutes"),
    ({"window_minutes": 24 * 60}, "window_minutes"),  # longer than the live windows are kept
    ({"min_events": 0}, "min_events"), ({"min_events": 10**12}, "min_events"), ({"min_events": "5"}, "min_events"),
    ({"metric": "cpu"}, "metric"), ({"metric": None}, "metric"), ({"tenant_id": "../etc"}, "tenant_id"),
    ({"tenant_id": "x" * 500}, "tenant_id"), ({"tenant_id": ""}, "tenant_id"), ({"org_id": {"$ne": 1}}, "org_id"),
    ({"app_id": "shop"}, "org_id"),  # an app needs its org
    ({"webhook_url": 42}, "webhook_url"), ({"webhook_url": ["https://93.184.215.14/"]}, "webhook_url"),
    ({"secret": "mine"}, "secret"), ({"rule_id": "0" * 16}, "rule_id"),
    ({"metric": "ingest_silence", "threshold": 5, "min_events": 5}, "threshold"),
    ({"metric": "ingest_silence", "threshold": 0.5}, "threshold"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), HOSTILE_FIELDS, ids=[str(c) for c, _ in HOSTILE_FIELDS])
def test_hostile_rule_fields_are_named_in_a_422(
    admin_worker: Worker, change: dict[str, Any], field: str
) -> None:
    assert field in refused_fields(post(admin_worker, {**GOOD, **change}))


@pytest.mark.parametrize(
    "missing", ["tenant_id", "metric", "threshold", "window_minutes", "min_events", "webhook_url"]
)
def test_each_required_field_is_named_when_missing(admin_worker: Worker, missing: str) -> None:
    body = {name: value for name, value in GOOD.items() if name != missing}
    assert refused_fields(post(admin_worker, body)) == {missing}


@pytest.mark.parametrize(("data", "content_type", "status"), MALFORMED_BODIES)
def test_malformed_bodies_are_4xx(admin_worker: Worker, data: str, content_type: str, status: int) -> None:
    answer = post(admin_worker, None, data=data.encode("utf-8", "surrogateescape"),
                  headers={**ADMIN_HEADERS, "Content-Type": content_type})  # fmt: skip
    malformed(answer, status)


def test_no_hostile_input_was_stored(admin_worker: Worker) -> None:
    """Runs after the hostile input above (file order): none of it made a rule."""
    assert listed(admin_worker) == []


def test_bad_listing_and_deletion_parameters(admin_worker: Worker) -> None:
    for params, field in (({"tenant_id": "../x"}, "tenant_id"), ({"tenant": TENANT}, "tenant")):
        answer = requests.get(
            f"{admin_worker.url}/admin/alerts", params=params, headers=ADMIN_HEADERS, timeout=30
        )
        assert refused_fields(answer) == {field}
    for rule_id in ("0" * 16, "not-a-rule", "%2e%2e", "a" * 5000, "0" * 15 + "G"):
        answer = requests.delete(
            f"{admin_worker.url}/admin/alerts/{rule_id}", headers=ADMIN_HEADERS, timeout=30
        )
        assert answer.status_code in (404, 414), answer.text  # 414: aiohttp's own limit on the request line


def test_keys_decide_who_manages_which_rules(admin_worker: Worker) -> None:
    worker = admin_worker
    ours, theirs = key(worker, TENANT, "admin"), key(worker, OTHER, "admin")
    reader = key(worker, TENANT, "read")
    assert post(worker, GOOD, headers={}).status_code == 401
    assert (
        post(worker, GOOD, headers={"Authorization": "Bearer ota_0000000000000000_nope"}).status_code == 401
    )
    assert post(worker, GOOD, headers=reader).status_code == 403  # no admin scope
    assert post(worker, {**GOOD, "tenant_id": OTHER}, headers=ours).status_code == 403

    made = post(worker, GOOD, headers=ours)
    assert made.status_code == 201, made.text
    rule = made.json()["data"]
    assert rule["tenant_id"] == TENANT and rule["secret"].startswith("whsec_")
    other = post(worker, {**GOOD, "tenant_id": OTHER}, headers=theirs).json()["data"]

    def listing(headers: dict[str, str], **params: str) -> requests.Response:
        return requests.get(f"{worker.url}/admin/alerts", params=params, headers=headers, timeout=30)

    # An admin key lists its own tenant's rules only, with or without tenant_id; another tenant is 403.
    assert [r["rule_id"] for r in listing(ours).json()["data"]] == [rule["rule_id"]]
    assert [r["rule_id"] for r in listing(ours, tenant_id=TENANT).json()["data"]] == [rule["rule_id"]]
    assert listing(ours, tenant_id=OTHER).status_code == 403
    assert listing(reader).status_code == 403
    # ADMIN_API_KEY lists every tenant's.
    assert {r["rule_id"] for r in listing(ADMIN_HEADERS).json()["data"]} == {
        rule["rule_id"],
        other["rule_id"],
    }
    assert "secret" not in listing(ADMIN_HEADERS).text

    # Deleting another tenant's rule is 403 and leaves it; the owner's admin key deletes it.
    url = f"{worker.url}/admin/alerts"
    assert requests.delete(f"{url}/{other['rule_id']}", headers=ours, timeout=30).status_code == 403
    assert [r["rule_id"] for r in listed(worker, OTHER)] == [other["rule_id"]]
    assert requests.delete(f"{url}/{other['rule_id']}", headers=theirs, timeout=30).status_code == 200
    assert requests.delete(f"{url}/{rule['rule_id']}", headers=ours, timeout=30).status_code == 200
    assert listed(worker) == []
