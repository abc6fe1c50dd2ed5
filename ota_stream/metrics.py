"""Our own Prometheus metrics (docs/metrics.md). Labels carry only bounded values: reasons, endpoints, outcomes.

Ingest metrics live in a registry of their own, `INGEST`, because ingest may run in other processes than the
stream processing (web/front.py): each process exports the registries of what it does, and /metrics joins them.
Everything else is in prometheus_client's default registry, next to Faust's own sensor.
"""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

INGEST = CollectorRegistry(auto_describe=True)
INGEST_ACCEPTED = Counter(
    "ota_ingest_accepted_total", "Events acknowledged by Kafka and answered 202.", registry=INGEST
)
REJECT_REASONS = (
    "invalid_json",
    "validation",
    "too_large",
    "unsupported_media_type",
    "kafka_unavailable",
    "kafka_busy",
)
INGEST_REJECTED = Counter(
    "ota_ingest_rejected_total", "Events or requests rejected at ingest.", ["reason"], registry=INGEST
)
PRODUCER_REPLACED = Counter(
    "ota_ingest_producer_replaced_total",
    "Ingest Kafka producers replaced after a failed send.",
    registry=INGEST,
)
EVENTS_PROCESSED = Counter("ota_pipeline_events_processed_total", "Events written to ClickHouse.")
DUPLICATES_DROPPED = Counter(
    "ota_pipeline_duplicates_dropped_total", "Events dropped as duplicates of an (tenant_id, event_id)."
)
CHANGELOG_KEYS_MENDED = Counter(
    "ota_table_changelog_keys_mended_total",
    "Keys of a table partition taken over that were older locally than in its changelog (kafka/changelog_audit.py).",
    ["table"],
)
BATCHES_FLUSHED = Counter("ota_pipeline_batches_flushed_total", "Batches written to ClickHouse.")
FLUSH_LATENCY = Histogram(
    "ota_pipeline_flush_latency_seconds",
    "Time to write one batch to ClickHouse, retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
INSERT_RETRIES = Counter("ota_pipeline_insert_retries_total", "ClickHouse write attempts that failed.")
DEAD_LETTER_REASONS = ("invalid_json", "invalid_event", "clickhouse_rejected")
DEAD_LETTERED = Counter(
    "ota_pipeline_dead_lettered_total", "Messages sent to the dead-letter topic.", ["reason"]
)
DEAD_LETTER_PRODUCER_REPLACED = Counter(
    "ota_pipeline_producer_replaced_total",
    "Dead-letter Kafka producers replaced after a failed send (workers whose ingest runs in other processes).",
)
PIPELINE_STALLED = Gauge(
    "ota_pipeline_stalled", "1 while this worker's partitions have lag and its sink writes nothing."
)
HEALING_ACTIONS = ("reseek", "rejoin")
HEAL_ACTIONS = Counter(
    "ota_pipeline_heal_actions_total",
    "Remedies the stall watchdog applied to a consumer stall (agents/healer.py).",
    ["action"],
)
CONSUMER_LAG = Gauge("ota_pipeline_consumer_lag", "Messages of KAFKA_TOPIC not yet processed by this worker.")
QUERY_LATENCY = Histogram(
    "ota_query_latency_seconds",
    "Analytics query latency by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
HTTP_RESPONSES = Counter(
    "ota_http_responses_total",
    "Answers of this worker's web server (ingest processes count their own refusals in ota_ingest_rejected_total).",
    ["status_class"],
)

# Alerts (docs/alerts.md). Outcomes of one delivery attempt or of a whole notification: `delivered` (a 2xx),
# `retried` (an attempt failed and another follows), `given_up` (failed past ALERT_DELIVERY_GIVE_UP_SECONDS),
# `dropped` (its rule was deleted, or too many notifications of one alert were waiting).
ALERT_OUTCOMES = ("delivered", "retried", "given_up", "dropped")
ALERT_DELIVERIES = Counter("ota_alert_deliveries_total", "Webhook delivery outcomes.", ["outcome"])
ALERT_STATES = ("firing", "resolved")
ALERT_NOTIFICATIONS = Counter(
    "ota_alert_notifications_total", "Alert notifications made (each is then delivered).", ["state"]
)
ALERT_EVALUATIONS = Counter("ota_alert_evaluations_total", "Evaluation passes over this worker's partitions.")
ALERT_EVALUATION_LATENCY = Histogram(
    "ota_alert_evaluation_seconds",
    "Time of one evaluation pass over every rule and app of this worker's partitions.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALERT_FIRING = Gauge("ota_alert_firing", "Alerts (rule and app) firing on this worker's partitions.")
ALERT_PENDING = Gauge("ota_alert_pending_deliveries", "Notifications waiting for delivery on this worker.")

# Rollout guards (docs/decisions.md#rollout-guards): decisions made, by action, and their deliveries, with the outcomes
# of alert deliveries (`dropped`: the guard was deleted before its decision was delivered).
GUARD_ACTIONS = ("pause", "rollback", "notify")
GUARD_DECISIONS = Counter("ota_guard_decisions_total", "Decisions made by rollout guards.", ["decision"])
GUARD_DELIVERIES = Counter(
    "ota_guard_deliveries_total", "Guard decision webhook delivery outcomes.", ["outcome"]
)
GUARD_EVALUATIONS = Counter(
    "ota_guard_evaluations_total", "Guard evaluation passes over this worker's partitions."
)
GUARD_PENDING = Gauge("ota_guard_pending_deliveries", "Guard decisions waiting for delivery on this worker.")


# Every label value is from a fixed set; export each from the start, so that dashboards and alerts see zeros.
for _reason in REJECT_REASONS:
    INGEST_REJECTED.labels(_reason)
for _reason in DEAD_LETTER_REASONS:
    DEAD_LETTERED.labels(_reason)
for _action in HEALING_ACTIONS:
    HEAL_ACTIONS.labels(_action)
for _status in STATUS_CLASSES:
    HTTP_RESPONSES.labels(_status)
for _outcome in ALERT_OUTCOMES:
    ALERT_DELIVERIES.labels(_outcome)
for _state in ALERT_STATES:
    ALERT_NOTIFICATIONS.labels(_state)
for _outcome in ALERT_OUTCOMES:
    GUARD_DELIVERIES.labels(_outcome)
for _action in GUARD_ACTIONS:
    GUARD_DECISIONS.labels(_action)


class RateMeter:
    """Events per second over a sliding window, for /health."""

    def __init__(self, window_seconds: float = 10.0) -> None:
        self.window = window_seconds
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, count: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, count))
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        return sum(count for _, count in self._samples) / self.window

    def _trim(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()
