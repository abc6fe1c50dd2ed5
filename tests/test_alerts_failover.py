"""Alert state moves with its partitions (docs/alerts.md): a second worker joining, a kill -9 of the owner while alerts
are firing and deliveries are pending, and the killed worker coming back with stale local state neither repeat nor
lose a notification. Duplicates are judged by notification id, as receivers are told to (docs/alerts.md):
delivery is at-least-once, the decision to notify is made once."""

from __future__ import annotations

from ota_stream.kafka.envelope import partition_for
from tests.conftest import WorkerFactory
from tests.support.alerts import ALERT_ENV, TENANT, events, ingest_key, make_rule, rate, send, wait_passes
from tests.support.partitions import PARTITIONS, wait_owned
from tests.support.processes import wait_for
from tests.support.receiver import Delivery, receiving

ORG = "failover"
PATH = "/failover"


def one_app_per_partition() -> list[str]:
    """App names whose events (and alert state) land on partitions 0, 1, 2 and 3."""
    apps: dict[int, str] = {}
    for n in range(1000):
        apps.setdefault(partition_for(f"{TENANT}/{ORG}/app{n}".encode(), PARTITIONS), f"app{n}")
        if len(apps) == PARTITIONS:
            return [apps[p] for p in range(PARTITIONS)]
    raise AssertionError("no app for some partition")


def failed_apps(deliveries: list[Delivery]) -> set[str]:
    return {d.payload["app_id"] for d in deliveries}


def of(deliveries: list[Delivery], app: str, state: str) -> list[Delivery]:
    return [d for d in deliveries if d.payload["app_id"] == app and d.payload["state"] == state]


def test_kill9_and_rebalances_neither_repeat_nor_lose_a_notification(make_worker: WorkerFactory) -> None:
    apps = one_app_per_partition()
    env = {**ALERT_ENV, "ALERT_DELIVERY_GIVE_UP_SECONDS": "600"}
    first, second = make_worker("w1", **env), make_worker("w2", **env)
    with receiving() as receiver:
        first.start()
        key = ingest_key(first)
        rule = make_rule(first, f"{receiver.url}{PATH}", org_id=ORG)
        breach = [
            events(app, "update_failed", 6, org=ORG) + events(app, "update_installed", 2, org=ORG)
            for app in apps
        ]

        # Two apps fire and are delivered by the only worker.
        send(first, key, breach[0] + breach[1])
        wait_for(lambda: len(receiver.notifications(PATH)) == 2, 60, "two alerts delivered")
        # The receiver goes down; two more apps fire, their notifications stay pending.
        receiver.fail(PATH)
        send(first, key, breach[2] + breach[3])
        wait_for(lambda: failed_apps(receiver.at(PATH, answered=500)) == set(apps[2:]), 60, "failed attempts")

        # A second worker joins: half the partitions, with their firing alerts and pending deliveries, move.
        second.start()
        wait_owned((first, 2), (second, 2))
        # The first worker dies with firing alerts (and maybe pending deliveries) on its two partitions.
        first.kill9()
        wait_owned((second, 4))
        receiver.fail(PATH, False)
        wait_for(lambda: len(receiver.notifications(PATH)) == 4, 90, "the pending notifications delivered")

        # The first worker comes back with stale local state; partitions move again. Then every app resolves.
        first.start()
        wait_owned((first, 2), (second, 2))
        send(second, key, [e for app in apps for e in events(app, "update_installed", 100, org=ORG)])
        wait_for(lambda: len(receiver.notifications(PATH)) == 8, 90, "every app resolved")
        wait_passes(6, first, second)  # nothing more comes of it

    accepted = receiver.at(PATH)
    notifications = receiver.notifications(PATH)
    assert len(notifications) == 8
    for app in apps:
        firing, resolved = of(accepted, app, "firing"), of(accepted, app, "resolved")
        assert len({d.notification_id for d in firing}) == 1, app  # decided once, whoever owned the app
        assert len({d.notification_id for d in resolved}) == 1, app  # not lost, not repeated
        assert firing[0].received_at < resolved[0].received_at
        assert firing[0].payload["value"] == rate(6, 8) and resolved[0].payload["value"] == rate(6, 108)
    # The pending notifications were retried as they were made: one id, one body, across both workers.
    for app in apps[2:]:
        attempts = of(receiver.at(PATH, answered=None), app, "firing")
        assert len({d.notification_id for d in attempts}) == 1 and len({d.body for d in attempts}) == 1
    assert all(d.signed_with(rule["secret"]) for d in receiver.at(PATH, answered=None))
