"""Notifications and the changes they make to an alert's state (alerts/state.py). Pure functions.

A notification's `id` is made once, when the state change is decided, and stored with its body before any
delivery is tried: every attempt, by this worker or by the next owner of the partition, sends the same id (in the
body as `notification_id` and in the X-OTA-Notification-Id header) with the same bytes. Receivers drop an id they
have seen: delivery is at-least-once (a worker killed after the receiver's 2xx and before recording it sends
again), the decision to notify is made once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from ota_stream.alerts.readings import Reading
from ota_stream.alerts.rules import AlertRule, Metric
from ota_stream.alerts.state import State
from ota_stream.models import format_timestamp

FIRING = "firing"
RESOLVED = "resolved"
# Notifications of one alert waiting at once (a flapping rule and a dead receiver); the oldest go first.
MAX_PENDING = 50


def iso(seconds: float) -> str:
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))


def make(
    rule: AlertRule, app_key: str, state: str, reading: Reading, fired_at: str, now: float
) -> dict[str, Any]:
    """A notification with its body, as stored and sent."""
    tenant_id, org_id, app_id = app_key.split("/", 2)
    notification_id = uuid.uuid4().hex
    value: float | int = int(reading.value) if rule.metric is Metric.INGEST_SILENCE else reading.value
    body = {
        "notification_id": notification_id,
        "rule_id": rule.rule_id,
        "state": state,
        "tenant_id": tenant_id,
        "org_id": org_id,
        "app_id": app_id,
        "metric": str(rule.metric),
        "value": value,
        "threshold": rule.threshold,
        "events": reading.gate,
        "window": {"start": iso(reading.start), "end": iso(reading.end)},
        "fired_at": fired_at,
        "resolved_at": iso(now) if state == RESOLVED else None,
    }
    return {"id": notification_id, "state": state, "body": orjson.dumps(body).decode(), "created_at": now}


def queued(current: State | None, note: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The pending list with `note` added, and how many old ones were dropped to keep it at MAX_PENDING."""
    pending = [*(current["pending"] if current else []), note]
    return pending[-MAX_PENDING:], max(0, len(pending) - MAX_PENDING)


def fired(current: State | None, partition: int, note: dict[str, Any], fired_at: str) -> State:
    pending, _ = queued(current, note)
    return {
        "partition": partition,
        "firing": True,
        "fired_at": fired_at,
        "pending": pending,
        "last": current["last"] if current else None,
    }


def resolved(current: State, note: dict[str, Any]) -> State:
    pending, _ = queued(current, note)
    return {**current, "firing": False, "fired_at": None, "pending": pending}


def without(current: State | None, notification_id: str, delivered_at: float | None) -> State | None:
    """The state once a notification is done with: delivered (recorded in `last`) or given up."""
    if current is None:
        return None
    pending = [n for n in current["pending"] if n["id"] != notification_id]
    if len(pending) == len(current["pending"]):
        return current
    last = current["last"]
    if delivered_at is not None:
        state = next(n["state"] for n in current["pending"] if n["id"] == notification_id)
        last = {"id": notification_id, "state": state, "delivered_at": iso(delivered_at)}
    return {**current, "pending": pending, "last": last}
