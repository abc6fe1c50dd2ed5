"""Alerts on a real worker with a real webhook receiver (docs/alerts.md): a breach fires once and its end resolves once,
bodies and signatures verify, a receiver that fails for a while gets the notification, one that never recovers is
given up and counted, ingest_silence fires when an app stops; rules are listed without secrets and deleted.

Failover (kill -9, rebalance) is in tests/test_alerts_failover.py; hostile rule input in tests/test_alerts_admin.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from tests.support.alerts import (
    ADMIN_HEADERS,
    ALERT_ENV,
    TENANT,
    events,
    ingest_key,
    make_rule,
    metric,
    rate,
    send,
    wait_passes,
)
from tests.support.expected import parse
from tests.support.processes import Worker, unique_name, wait_for
from tests.support.prometheus import alerting_rules, selectors
from tests.support.receiver import Receiver, receiving

GIVE_UP_SECONDS = 15


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


@pytest.fixture(scope="module")
def alerting(kafka: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, str]]:
    worker = Worker(
        tmp_path_factory.mktemp("alerts"), kafka, unique_name("ota-events"), unique_name("ota-group"),
        env={**ALERT_ENV, "ALERT_DELIVERY_GIVE_UP_SECONDS": str(GIVE_UP_SECONDS)},
    )  # fmt: skip
    worker.start()
    try:
        yield worker, ingest_key(worker)
    finally:
        worker.stop()


def deliveries(worker: Worker, outcome: str) -> float:
    return metric(worker, "ota_alert_deliveries_total", outcome=outcome)


def breach_while_failing(alerting: tuple[Worker, str], receiver: Receiver, name: str, outcome: str) -> float:
    """Make app `name` (of org `name`) breach a rule whose receiver path `/name` answers 500; returns the
    deliveries counted with `outcome` before."""
    worker, key = alerting
    make_rule(worker, f"{receiver.url}/{name}", app_id=name, org_id=name)
    before = deliveries(worker, outcome)
    receiver.fail(f"/{name}")
    send(worker, key, events(name, "update_failed", 5, org=name))
    return before


def test_a_breach_fires_once_and_its_end_resolves_once(
    alerting: tuple[Worker, str], receiver: Receiver
) -> None:
    worker, key = alerting
    org = "basic"
    rule = make_rule(worker, f"{receiver.url}/basic", org_id=org)  # every app of the org: failures > 20 %
    delivered_before = deliveries(worker, "delivered")
    send(
        worker,
        key,
        events("basic-1", "update_failed", 6, org=org) + events("basic-1", "update_installed", 2, org=org),
    )
    # basic-2 fails at 100 %, but with fewer events than min_events (5): no alert
    send(worker, key, events("basic-2", "update_failed", 4, org=org))

    wait_for(lambda: receiver.at("/basic"), 60, "the firing notification")
    send(worker, key, events("basic-1", "update_installed", 100, org=org))  # 6 / 108: under the threshold
    wait_for(lambda: len(receiver.notifications("/basic")) == 2, 60, "the resolved notification")
    wait_passes(4, worker)  # nothing more comes of it

    accepted = receiver.at("/basic")
    assert [d.payload["state"] for d in accepted] == ["firing", "resolved"]  # each delivered once, no retry
    assert {d.payload["app_id"] for d in accepted} == {"basic-1"}  # basic-2 has too few events
    assert receiver.at("/basic", answered=None) == accepted
    firing, resolved = (d.payload for d in accepted)
    assert {k: firing[k] for k in ("rule_id", "tenant_id", "org_id", "app_id", "metric", "threshold")} == {
        "rule_id": rule["rule_id"], "tenant_id": TENANT, "org_id": "basic", "app_id": "basic-1",
        "metric": "failure_rate", "threshold": 20,
    }  # fmt: skip
    assert firing["value"] == rate(6, 8) == 75.0 and firing["events"] == 8
    assert resolved["value"] == rate(6, 108) and resolved["events"] == 108
    assert resolved["fired_at"] == firing["fired_at"] and resolved["resolved_at"] is not None
    assert firing["resolved_at"] is None
    for payload in (firing, resolved):
        start, end = parse(payload["window"]["start"]), parse(payload["window"]["end"])
        assert end - start == timedelta(minutes=10)  # 300 closed windows of 2 s
        assert end <= parse(payload.get("resolved_at") or payload["fired_at"])  # closed windows only
    for delivery in accepted:
        assert delivery.signed_with(rule["secret"])
        assert not delivery.signed_with(rule["secret"] + "x")
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.payload["notification_id"] == delivery.notification_id
    assert deliveries(worker, "delivered") - delivered_before == 2


def test_a_receiver_that_fails_for_a_while_gets_the_notification(
    alerting: tuple[Worker, str], receiver: Receiver
) -> None:
    worker, _ = alerting
    retried_before = breach_while_failing(alerting, receiver, "flaky", "retried")
    wait_for(lambda: len(receiver.at("/flaky", answered=500)) >= 3, 60, "three failed attempts")
    receiver.fail("/flaky", False)
    wait_for(lambda: receiver.at("/flaky"), 60, "the delivery once the receiver recovers")

    attempts = receiver.at("/flaky", answered=None)
    assert len({d.notification_id for d in attempts}) == 1  # one notification, retried as it was made
    assert len({d.body for d in attempts}) == 1
    assert attempts[-1].answered == 200 and all(d.answered == 500 for d in attempts[:-1])
    assert deliveries(worker, "retried") - retried_before == len(attempts) - 1
    waits = [later.received_at - earlier.received_at for earlier, later in itertools.pairwise(attempts)]
    assert all(0.1 <= wait <= 3 for wait in waits), waits  # backoff from 0.2 s to its 1 s cap, with jitter


def test_a_receiver_that_never_recovers_is_given_up_and_counted(
    alerting: tuple[Worker, str], receiver: Receiver
) -> None:
    worker, _ = alerting
    given_up_before = breach_while_failing(alerting, receiver, "dead", "given_up")
    wait_for(lambda: deliveries(worker, "given_up") > given_up_before, GIVE_UP_SECONDS + 60, "the give-up")
    attempts = receiver.at("/dead", answered=None)
    wait_passes(4, worker)
    assert receiver.at("/dead", answered=None) == attempts  # no attempt after giving up
    assert deliveries(worker, "given_up") - given_up_before == 1
    assert attempts[-1].received_at - attempts[0].received_at >= GIVE_UP_SECONDS - 1
    assert len({d.notification_id for d in attempts}) == 1


def test_ingest_silence_fires_when_an_app_stops_and_resolves_when_it_sends_again(
    alerting: tuple[Worker, str], receiver: Receiver
) -> None:
    worker, key = alerting
    org = "silence"
    rule = make_rule(worker, f"{receiver.url}/silence", org_id=org, metric="ingest_silence", threshold=0,
                     window_minutes=1, min_events=3)  # fmt: skip
    # "quiet" sent 4 events 75 s ago (the previous minute) and nothing since; "chatty" also sent one 5 s ago.
    send(worker, key, events("quiet", "update_started", 4, ago=75, org=org)
         + events("chatty", "update_started", 4, ago=75, org=org)
         + events("chatty", "update_downloaded", 1, ago=5, org=org))  # fmt: skip
    wait_for(lambda: receiver.at("/silence"), 60, "the silence to be noticed")
    send(worker, key, events("quiet", "update_started", 1, org=org))
    wait_for(lambda: len(receiver.notifications("/silence")) == 2, 60, "the app to be heard again")

    accepted = receiver.at("/silence")
    assert [(d.payload["app_id"], d.payload["state"]) for d in accepted] == [
        ("quiet", "firing"), ("quiet", "resolved"),
    ]  # fmt: skip
    firing, resolved = (d.payload for d in accepted)
    assert firing["value"] == 0 and resolved["value"] == 1
    assert parse(firing["window"]["end"]) - parse(firing["window"]["start"]) == timedelta(minutes=1)
    assert all(d.signed_with(rule["secret"]) for d in accepted)


def test_rules_are_listed_without_secrets_and_deleted(
    alerting: tuple[Worker, str], receiver: Receiver
) -> None:
    worker, _ = alerting
    made = make_rule(worker, f"{receiver.url}/listed", app_id="listed", org_id="listed", metric="rollback_rate",
                     threshold=2.5)  # fmt: skip
    assert made["secret"].startswith("whsec_") and made["metric"] == "rollback_rate"
    listing = requests.get(f"{worker.url}/admin/alerts", params={"tenant_id": TENANT}, headers=ADMIN_HEADERS,
                           timeout=30)  # fmt: skip
    assert listing.status_code == 200
    listed = {rule["rule_id"]: rule for rule in listing.json()["data"]}
    assert {k: v for k, v in made.items() if k != "secret"} == listed[made["rule_id"]]
    assert made["secret"] not in listing.text and "secret" not in listing.text
    gone = requests.delete(f"{worker.url}/admin/alerts/{made['rule_id']}", headers=ADMIN_HEADERS, timeout=30)
    assert gone.status_code == 200 and gone.json()["data"]["rule_id"] == made["rule_id"]
    again = requests.delete(f"{worker.url}/admin/alerts/{made['rule_id']}", headers=ADMIN_HEADERS, timeout=30)
    assert again.status_code == 404
    listing = requests.get(f"{worker.url}/admin/alerts", params={"tenant_id": TENANT}, headers=ADMIN_HEADERS,
                           timeout=30)  # fmt: skip
    assert made["rule_id"] not in {rule["rule_id"] for rule in listing.json()["data"]}


def test_the_prometheus_rules_read_series_this_worker_exports(alerting: tuple[Worker, str]) -> None:
    """deploy/prometheus/alerts.yml against a real scrape: each series it reads (but Prometheus's `up`) is in the
    /metrics of a worker that takes ingest itself, with the label values it matches on."""
    worker, _ = alerting
    scrape = requests.get(f"{worker.url}/metrics", timeout=10).text
    samples = re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ", scrape, re.MULTILINE)
    names = {name for name, _ in samples}
    checked = 0
    for rule in alerting_rules():
        for selector in selectors(rule["expr"]):
            if selector.name == "up":
                continue  # made by Prometheus for every target
            assert selector.name in names, f"{rule['alert']}: {selector.name} not in the scrape"
            for matcher in selector.matchers.matchers:
                pair = f'{matcher.name}="{matcher.value}"'
                assert any(name == selector.name and pair in labels for name, labels in samples), (rule, pair)
            checked += 1
    assert checked >= 6
