"""A rollout guard decides once per (guard, version) across a rebalance, a kill -9 and clean restarts of two workers
(docs/decisions.md#rollout-guards): every decision arrives, signed with its guard's secret, with the contract's
body, once (retries of a pending one keep its id and bytes); `GET /admin/guards/{id}/decisions` on either worker
shows each delivered; a guard whose version passes decides nothing; the events topic is consumed to its end."""

from __future__ import annotations

from typing import Any

from ota_stream.kafka.envelope import partition_for
from tests.conftest import WorkerFactory
from tests.support.alerts import TENANT, ingest_key, send
from tests.support.diagnosis import group_offsets, kafka_report
from tests.support.guards import (
    DECISION_FIELDS,
    GUARD_ENV,
    ORG,
    decided,
    decisions_of,
    delete_guard,
    failing,
    make_guard,
    passing,
    wait_guard_passes,
)
from tests.support.partitions import PARTITIONS, wait_owned
from tests.support.processes import Worker, wait_for
from tests.support.receiver import Receiver, receiving

PATH, CALM_PATH = "/rollback", "/calm"
APP, CALM_APP = "shop", "till"
FIRST, SECOND, HEALTHY = "2.0.0", "2.1.0", "3.0.0"


def one_guard_per_partition(worker: Worker, url: str) -> list[dict[str, Any]]:
    """Guards of APP whose decisions land on partitions 0..3 (a guard's id decides its partition): guards are made
    until each partition has one, and the extra ones are deleted again."""
    guards: dict[int, dict[str, Any]] = {}
    for _ in range(200):
        guard = make_guard(worker, url, APP)
        partition = partition_for(guard["guard_id"].encode(), PARTITIONS)
        if partition in guards:
            delete_guard(worker, guard["guard_id"])
        else:
            guards[partition] = guard
        if len(guards) == PARTITIONS:
            return [guards[p] for p in range(PARTITIONS)]
    raise AssertionError("no guard for some partition")


def wait_decided(receiver: Receiver, keys: set[tuple[str, str]], what: str) -> None:
    wait_for(lambda: set(decided(receiver.at(PATH))) >= keys, 120, what,
             diagnose=lambda: f"decided so far: {sorted(decided(receiver.at(PATH)))}")  # fmt: skip


def test_a_guard_decides_once_across_rebalances_a_kill9_and_restarts(make_worker: WorkerFactory) -> None:
    env = {**GUARD_ENV, "ALERT_DELIVERY_GIVE_UP_SECONDS": "600"}
    first, second = make_worker("w1", **env), make_worker("w2", **env)
    with receiving() as receiver:
        first.start()
        key = ingest_key(first)
        guards = one_guard_per_partition(first, f"{receiver.url}{PATH}")
        calm = make_guard(first, f"{receiver.url}{CALM_PATH}", CALM_APP, action="pause")
        secrets = {guard["guard_id"]: guard["secret"] for guard in guards}
        ids = set(secrets)

        # The only worker decides FIRST for every guard, and the receiver takes each decision.
        send(first, key, failing(APP, FIRST) + passing(CALM_APP, HEALTHY))
        wait_decided(receiver, {(g, FIRST) for g in ids}, f"{FIRST} decided and delivered for each guard")
        # The receiver goes down; SECOND fails too: its decisions are made and stay pending.
        receiver.fail(PATH)
        send(first, key, failing(APP, SECOND))
        wait_for(lambda: {(g, SECOND) for g in ids} <= set(decided(receiver.at(PATH, answered=500))), 120,
                 f"failed attempts to deliver {SECOND}'s decisions")  # fmt: skip

        # A second worker joins: two partitions, with their decisions (delivered and pending), move to it.
        second.start()
        wait_owned((first, 2), (second, 2))
        # The first worker is killed with decisions pending on its partitions; the second takes them all over.
        first.kill9()
        wait_owned((second, 4))
        receiver.fail(PATH, False)
        wait_decided(
            receiver, {(g, v) for g in ids for v in (FIRST, SECOND)}, "every pending decision delivered"
        )

        # The first worker comes back with its stale local copy; the second stops cleanly and comes back too.
        first.start()
        wait_owned((first, 2), (second, 2))
        second.stop()
        wait_owned((first, 4))
        second.start()
        wait_owned((first, 2), (second, 2))
        wait_guard_passes(6, first, second)  # nothing more comes of it

        listed = {guard_id: decisions_of(first, guard_id) for guard_id in ids}  # forwarded to the owner
        calm_listed = decisions_of(second, calm["guard_id"])
        wait_for(
            lambda: all((committed or 0) == end for _, end, committed in group_offsets(first)),
            60, "every offset of the events topic committed", diagnose=lambda: kafka_report(first),
        )  # fmt: skip

    accepted = receiver.at(PATH)
    # Once per (guard, version): one decision id each, however many deliveries (retries) carried it.
    assert decided(accepted) == {k: v for k, v in decided(accepted).items() if len(v) == 1}
    assert set(decided(accepted)) == {(g, v) for g in ids for v in (FIRST, SECOND)}
    assert set(decided(receiver.at(PATH, answered=None))) == set(decided(accepted))
    for delivery in receiver.at(PATH, answered=None):
        body = delivery.payload
        assert delivery.signed_with(secrets[body["guard_id"]])
        assert delivery.notification_id == body["decision_id"]
        assert set(body) == DECISION_FIELDS
        assert (body["decision"], body["tenant_id"], body["org_id"], body["app_id"], body["channel"]) == (
            "rollback",
            TENANT,
            ORG,
            APP,
            None,
        )
        health = body["health"]
        assert health["version"] == body["version"] and health["verdict"] == "fail"
        assert health["devices_attempted"] == 10 and health["failure_rate"] == 60.0
    # A pending decision was retried as it was made: the same bytes under its id, whoever sent it.
    by_id: dict[str, set[bytes]] = {}
    for delivery in receiver.at(PATH, answered=None):
        by_id.setdefault(delivery.notification_id, set()).add(delivery.body)
    assert all(len(bodies) == 1 for bodies in by_id.values())
    # The guard whose version passed decided nothing.
    assert receiver.at(CALM_PATH, answered=None) == [] and calm_listed == []
    # Each guard lists its two decisions, delivered, as they were sent.
    for guard_id, found in listed.items():
        assert [(d["version"], d["delivery"]) for d in found] == [(FIRST, "delivered"), (SECOND, "delivered")]
        sent = {d.payload["decision_id"]: d.payload for d in accepted if d.payload["guard_id"] == guard_id}
        for entry in found:
            assert entry["delivered_at"] is not None
            assert {k: v for k, v in entry.items() if k in DECISION_FIELDS} == sent[entry["decision_id"]]
