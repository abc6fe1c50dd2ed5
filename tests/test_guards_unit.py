"""Rollout guards without a worker: what POST /admin/guards accepts, how a guard is stored, the decision a guard
sends and how its delivery reads in the listing (the end-to-end tests with workers are in test_guards.py)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from ota_stream.alerts import notifications
from ota_stream.alerts.webhooks import Target, sign
from ota_stream.config import KafkaSettings
from ota_stream.guards import decisions, rules
from ota_stream.guards.rules import Action, Guard, NewGuard
from ota_stream.kafka.envelope import partition_for
from ota_stream.storage.queries.release_health import Thresholds

BODY = {"tenant_id": "acme", "org_id": "mobile", "app_id": "shop", "action": "rollback",
        "webhook_url": "https://hooks.example.com/ota"}  # fmt: skip
HEALTH = {"version": "2.4.0", "verdict": "fail", "reasons": ["failure_rate 9.0 is above max_failure_rate 5"]}


def refused(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        NewGuard.model_validate(body)
    return [".".join(str(part) for part in error["loc"]) for error in caught.value.errors()]


def test_a_guard_takes_the_gates_parameters_with_the_gates_defaults() -> None:
    spec = NewGuard.model_validate(BODY)
    assert spec.watch_hours == 72 and spec.channel is None
    assert spec.rules.thresholds() == Thresholds()  # the health route's defaults
    given = NewGuard.model_validate({**BODY, "rules": {"max_crash_rate": 1, "baseline": "previous",
                                                       "confidence": True, "min_devices": 200}})  # fmt: skip
    assert given.rules.thresholds() == Thresholds(min_devices=200, max_crash_rate=1.0, baseline="previous",
                                                  confidence=True)  # fmt: skip


def test_refused_fields_are_named() -> None:
    assert refused({**BODY, "action": "explode"}) == ["action"]
    assert refused({**BODY, "rules": {"max_failure_rate": 101}}) == ["rules.max_failure_rate"]
    assert refused({**BODY, "rules": {"hours": 721}}) == ["rules.hours"]
    assert refused({**BODY, "rules": {"min_devices": 0}}) == ["rules.min_devices"]
    assert refused({**BODY, "rules": {"window": 5}}) == ["rules.window"]  # unknown
    assert refused({**BODY, "watch_hours": 0}) == ["watch_hours"]
    assert refused({**BODY, "watch_hours": 721}) == ["watch_hours"]
    assert refused({k: v for k, v in BODY.items() if k != "app_id"}) == ["app_id"]
    assert refused({**BODY, "org_id": "a b"}) == ["org_id"]
    assert refused({**BODY, "channel": ""}) == ["channel"]
    assert refused({**BODY, "extra": 1}) == ["extra"]


def test_a_stored_guard_reads_back_and_lists_without_its_secret() -> None:
    guard = rules.make(NewGuard.model_validate({**BODY, "channel": "production"}))
    assert Guard.from_record(orjson.loads(orjson.dumps(guard.to_record()))) == guard
    assert "secret" not in guard.public() and guard.secret.startswith("whsec_")
    assert len(guard.guard_id) == rules.GUARD_ID_LENGTH and guard.action is Action.ROLLBACK
    for partitions in (1, 4, 12):  # where table_route looks for its decisions: the key's partition
        assert guard.partition(partitions) == partition_for(guard.guard_id.encode(), partitions)


def test_a_decision_is_signed_and_sent_as_stored() -> None:
    guard = rules.make(NewGuard.model_validate({**BODY, "channel": "production"}))
    entry = decisions.decide(guard, "2.4.0", HEALTH, 1_767_225_600.5, 3)
    note = entry["pending"][0]
    body = orjson.loads(note["body"])
    assert body == entry["decision"] == {
        "decision_id": note["id"], "guard_id": guard.guard_id, "decision": "rollback", "tenant_id": "acme",
        "org_id": "mobile", "app_id": "shop", "channel": "production", "version": "2.4.0", "health": HEALTH,
        "decided_at": "2026-01-01T00:00:00.500Z",
    }  # fmt: skip
    expected = hmac.new(guard.secret.encode(), note["body"].encode(), hashlib.sha256).hexdigest()
    assert sign(guard.secret, note["body"].encode()) == f"sha256={expected}"
    assert entry["partition"] == 3 and entry["last"] is None


def test_the_listing_says_how_each_delivery_went() -> None:
    guard = rules.make(NewGuard.model_validate(BODY))
    entry = decisions.decide(guard, "2.4.0", HEALTH, 1_767_225_600.0, 0)
    decision_id = entry["decision"]["decision_id"]
    assert decisions.listed(entry)["delivery"] == "pending"
    delivered = notifications.without(entry, decision_id, 1_767_225_660.0)
    assert delivered is not None and not delivered["pending"]
    shown = decisions.listed(delivered)
    assert (shown["delivery"], shown["delivered_at"]) == ("delivered", "2026-01-01T00:01:00.000Z")
    assert shown["decision_id"] == decision_id and shown["health"] == HEALTH
    given_up = notifications.without(entry, decision_id, None)
    assert given_up is not None
    assert (decisions.listed(given_up)["delivery"], decisions.listed(given_up)["delivered_at"]) == (
        "given_up",
        None,
    )


def test_the_store_gives_each_decision_its_guards_webhook_and_lists_a_tenants_guards() -> None:
    store = rules.GuardStore(KafkaSettings())  # not started: its items are filled by hand
    older = rules.make(NewGuard.model_validate({**BODY, "app_id": "chat"}))
    newer = rules.make(NewGuard.model_validate(BODY))
    other = rules.make(NewGuard.model_validate({**BODY, "tenant_id": "globex"}))
    for guard, created in ((older, "2026-01-01T00:00:00.000Z"), (newer, "2026-01-02T00:00:00.000Z"),
                           (other, "2026-01-03T00:00:00.000Z")):  # fmt: skip
        store.items[guard.guard_id] = replace(guard, created_at=created)
    assert [g.guard_id for g in store.of_tenant("acme")] == [older.guard_id, newer.guard_id]
    assert len(store.of_tenant(None)) == 3
    assert store.target((newer.guard_id, "2.4.0")) == Target(newer.webhook_url, newer.secret,
                                                             f"guard {newer.guard_id}")  # fmt: skip
    assert store.target(("0" * 16, "2.4.0")) is None  # a deleted guard: nothing more is sent
    assert rules.topic(KafkaSettings(consumer_group="ota")) == "ota-guards"
