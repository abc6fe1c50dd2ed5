"""A guard's decisions: the body each one sends, and its entry in the decisions table. Pure functions.

Decisions are kept per (guard_id, version) in a changelogged table of the same kind as alert state
(alerts/state.py, `TABLE_NAME` here), in the partition of the guard (`Guard.partition`): the worker that owns that
partition evaluates the guard, and Faust restores the table on whichever worker owns it next, after a restart or a
rebalance. An entry is written (and its changelog acked) before its webhook is first tried, and stays after the
delivery, so a version is decided once:

    {"partition": p, "version": v, "decision": {the body, as a JSON object},
     "pending": [notification], "last": {"id", "state", "delivered_at"} | None}

A notification is alerts/notifications.py's `{"id", "state", "body", "created_at"}`: the body as the exact text
that is signed and sent, so a retry by this worker or by the next owner sends the same bytes and the same id.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from ota_stream.alerts.notifications import iso
from ota_stream.alerts.state import State
from ota_stream.guards.rules import Guard

TABLE_NAME = "guard-decisions"
DESCRIPTION = "Rollout guard decisions per guard and version, and their deliveries."


def decide(guard: Guard, version: str, health: dict[str, Any], now: float, partition: int) -> State:
    """The entry of a decision just made: its body, waiting for delivery."""
    decision_id = uuid.uuid4().hex
    body = {
        "decision_id": decision_id,
        "guard_id": guard.guard_id,
        "decision": str(guard.action),
        "tenant_id": guard.tenant_id,
        "org_id": guard.org_id,
        "app_id": guard.app_id,
        "channel": guard.channel,
        "version": version,
        "health": health,
        "decided_at": iso(now),
    }
    note = {
        "id": decision_id,
        "state": str(guard.action),
        "body": orjson.dumps(body).decode(),
        "created_at": now,
    }
    return {"partition": partition, "version": version, "decision": body, "pending": [note], "last": None}


def listed(entry: State) -> dict[str, Any]:
    """What `GET /admin/guards/{guard_id}/decisions` shows of an entry: the decision and how its delivery went."""
    body = entry["decision"]
    last = entry["last"]
    delivered = last is not None and last["id"] == body["decision_id"]
    delivery = "pending" if entry["pending"] else "delivered" if delivered else "given_up"
    return {**body, "delivery": delivery, "delivered_at": last["delivered_at"] if delivered else None}
