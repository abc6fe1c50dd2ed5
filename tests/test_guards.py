"""`/admin/guards` on a real worker with keys required and private webhooks refused (the default): hostile guard
input is a 4xx naming the field (never a 500) and stores nothing; the admin scope and the key's reach (tenant, org,
app) decide who may make, list and delete which guards and read their decisions, as for alert rules
(docs/decisions.md#rollout-guards, docs/security.md). Decisions made and delivered by two workers are in
test_guards_failover.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.alerts import (
    ADMIN_HEADERS,
    HOSTILE_URLS,
    MALFORMED_BODIES,
    TENANT,
    malformed,
    refused_fields,
)
from tests.support.guards import GUARD_ENV, ORG, decisions_of
from tests.support.keys import make_key
from tests.support.processes import Worker, unique_name, wait_for

OTHER = "another-tenant"
PUBLIC_URL = "https://93.184.215.14/hooks/ota"  # a public address: no DNS needed
GOOD = {"tenant_id": TENANT, "org_id": ORG, "app_id": "shop", "action": "pause", "webhook_url": PUBLIC_URL}


@pytest.fixture(scope="module")
def admin_worker(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = Worker(
        tmp_path_factory.mktemp("guards-admin"), kafka, unique_name("ota-events"), unique_name("ota-group"),
        env={**GUARD_ENV, "ALERT_WEBHOOK_ALLOW_PRIVATE": "false", "RATE_LIMIT_READ_REQUESTS_PER_SECOND": "0"},
    )  # fmt: skip
    worker.start()
    try:
        wait_for(lambda: get(worker, "").status_code == 200, 60, "the keys and guards to be read")
        yield worker
    finally:
        worker.stop()


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


def post(
    worker: Worker, body: Any, headers: dict[str, str] = ADMIN_HEADERS, **kwargs: Any
) -> requests.Response:
    if "data" not in kwargs:
        kwargs["json"] = body
    return requests.post(f"{worker.url}/admin/guards", headers=headers, timeout=30, **kwargs)


def get(
    worker: Worker, path: str, headers: dict[str, str] = ADMIN_HEADERS, **params: str
) -> requests.Response:
    return requests.get(f"{worker.url}/admin/guards{path}", params=params, headers=headers, timeout=30)


def delete(
    worker: Worker, guard_id: str, headers: dict[str, str] = ADMIN_HEADERS, **params: str
) -> requests.Response:
    url = f"{worker.url}/admin/guards/{guard_id}"
    return requests.delete(url, params=params, headers=headers, timeout=30)


def listed(worker: Worker, headers: dict[str, str] = ADMIN_HEADERS, **params: str) -> list[str]:
    answer = get(worker, "", headers, **params)
    assert answer.status_code == 200, answer.text
    return [guard["guard_id"] for guard in answer.json()["data"]]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_webhook_urls_are_refused_as_for_alerts(admin_worker: Worker, url: str) -> None:
    assert refused_fields(post(admin_worker, {**GOOD, "webhook_url": url})) == {"webhook_url"}


HOSTILE_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"action": "explode"}, "action"), ({"action": None}, "action"), ({"action": ["pause"]}, "action"),
    ({"watch_hours": 0}, "watch_hours"), ({"watch_hours": 721}, "watch_hours"), ({"watch_hours": 1.5}, "watch_hours"),
    ({"watch_hours": "72"}, "watch_hours"), ({"rules": {"max_failure_rate": 101}}, "rules.max_failure_rate"),
    ({"rules": {"min_devices": 0}}, "rules.min_devices"), ({"rules": {"hours": 10**9}}, "rules.hours"),
    ({"rules": {"confidence": "yes"}}, "rules.confidence"), ({"rules": {"window": 5}}, "rules.window"),
    ({"rules": [1]}, "rules"), ({"tenant_id": "../etc"}, "tenant_id"), ({"org_id": {"$ne": 1}}, "org_id"),
    ({"app_id": ""}, "app_id"), ({"channel": ""}, "channel"), ({"channel": "x" * 5000}, "channel"),
    ({"webhook_url": 42}, "webhook_url"), ({"secret": "mine"}, "secret"), ({"guard_id": "0" * 16}, "guard_id"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), HOSTILE_FIELDS, ids=[str(c) for c, _ in HOSTILE_FIELDS])
def test_hostile_guard_fields_are_named_in_a_422(
    admin_worker: Worker, change: dict[str, Any], field: str
) -> None:
    assert field in refused_fields(post(admin_worker, {**GOOD, **change}))


@pytest.mark.parametrize("missing", ["tenant_id", "org_id", "app_id", "action", "webhook_url"])
def test_each_required_field_is_named_when_missing(admin_worker: Worker, missing: str) -> None:
    body = {name: value for name, value in GOOD.items() if name != missing}
    assert refused_fields(post(admin_worker, body)) == {missing}


@pytest.mark.parametrize(("data", "content_type", "status"), MALFORMED_BODIES)
def test_malformed_bodies_are_4xx(admin_worker: Worker, data: str, content_type: str, status: int) -> None:
    body = data.encode("utf-8", "surrogateescape")
    malformed(
        post(admin_worker, None, data=body, headers={**ADMIN_HEADERS, "Content-Type": content_type}), status
    )


def test_no_hostile_input_was_stored(admin_worker: Worker) -> None:
    """Runs after the hostile input above (file order): none of it made a guard."""
    assert listed(admin_worker) == []


def test_bad_paths_and_parameters(admin_worker: Worker) -> None:
    assert refused_fields(get(admin_worker, "", tenant_id="../x")) == {"tenant_id"}
    assert refused_fields(get(admin_worker, "", tenant=TENANT)) == {"tenant"}
    for guard_id in ("0" * 16, "not-a-guard", "%2e%2e", "0" * 15 + "G"):
        assert delete(admin_worker, guard_id).status_code == 404
        assert get(admin_worker, f"/{guard_id}/decisions").status_code == 404


def test_a_guard_is_made_once_with_its_secret_and_listed_without_it(admin_worker: Worker) -> None:
    made = post(admin_worker, {**GOOD, "channel": "production", "rules": {"max_crash_rate": 1}})
    assert made.status_code == 201, made.text
    guard = made.json()["data"]
    assert guard["secret"].startswith("whsec_") and len(guard["guard_id"]) == 16
    assert guard["watch_hours"] == 72 and guard["channel"] == "production" and guard["action"] == "pause"
    assert (
        guard["rules"]["max_crash_rate"] == 1 and guard["rules"]["min_devices"] == 50
    )  # the gate's defaults
    answer = get(admin_worker, "", tenant_id=TENANT)
    assert [g["guard_id"] for g in answer.json()["data"]] == [guard["guard_id"]]
    assert guard["secret"] not in answer.text and "secret" not in answer.text
    assert {k: v for k, v in guard.items() if k != "secret"} == answer.json()["data"][0]
    # No version of the app has any event: nothing is decided.
    assert decisions_of(admin_worker, guard["guard_id"]) == []
    assert refused_fields(get(admin_worker, f"/{guard['guard_id']}/decisions", since="1")) == {"since"}
    # DELETE takes no query parameter either (its declaration, web/routes.py): refused, and the guard kept.
    assert refused_fields(delete(admin_worker, guard["guard_id"], force="1")) == {"force"}
    assert listed(admin_worker) == [guard["guard_id"]]
    assert delete(admin_worker, guard["guard_id"]).status_code == 200
    assert listed(admin_worker) == []
    assert delete(admin_worker, guard["guard_id"]).status_code == 404


def test_keys_decide_who_manages_which_guards(admin_worker: Worker) -> None:
    worker = admin_worker
    ours, theirs = bearer(make_key(worker, TENANT, "admin")), bearer(make_key(worker, OTHER, "admin"))
    reader = bearer(make_key(worker, TENANT, "read"))
    shop_only = bearer(make_key(worker, TENANT, "admin", org_id=ORG, app_id="shop"))
    assert post(worker, GOOD, headers={}).status_code == 401
    assert post(worker, GOOD, headers=reader).status_code == 403  # no admin scope
    assert post(worker, {**GOOD, "tenant_id": OTHER}, headers=ours).status_code == 403
    assert post(worker, {**GOOD, "app_id": "till"}, headers=shop_only).status_code == 403  # beyond its app

    shop = post(worker, GOOD, headers=shop_only).json()["data"]
    till = post(worker, {**GOOD, "app_id": "till"}, headers=ours).json()["data"]
    other = post(worker, {**GOOD, "tenant_id": OTHER}, headers=theirs).json()["data"]

    # Each admin key lists what it reaches; ADMIN_API_KEY lists every tenant's.
    assert listed(worker, ours) == [shop["guard_id"], till["guard_id"]]
    assert listed(worker, shop_only) == [shop["guard_id"]]
    assert listed(worker, theirs) == [other["guard_id"]]
    assert set(listed(worker)) == {shop["guard_id"], till["guard_id"], other["guard_id"]}
    assert get(worker, "", ours, tenant_id=OTHER).status_code == 403
    assert get(worker, "", reader).status_code == 403
    # A narrowed key neither reads nor deletes a guard beyond its app; another tenant's key neither.
    for guard_id, headers in ((till["guard_id"], shop_only), (shop["guard_id"], theirs)):
        assert get(worker, f"/{guard_id}/decisions", headers).status_code == 403
        assert delete(worker, guard_id, headers).status_code == 403
    assert decisions_of(worker, shop["guard_id"], shop_only) == []
    assert set(listed(worker)) == {shop["guard_id"], till["guard_id"], other["guard_id"]}

    for guard, headers in ((shop, shop_only), (till, ours), (other, theirs)):
        assert delete(worker, guard["guard_id"], headers).status_code == 200
    assert listed(worker) == []
