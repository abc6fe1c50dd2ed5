"""Alert rules: what the admin API accepts, how a rule is stored and distributed, and which apps it watches.

Rules live in a compacted topic (`<KAFKA_CONSUMER_GROUP>-alert-rules`, kafka/compacted.py), like the API keys, so
that every worker holds all of them, they survive restarts, and a new or deleted rule reaches every worker within
a poll. Unlike a key, a rule's signing secret is stored as it is: the worker needs it to sign each delivery, so
the topic must be protected like the secrets it holds (Kafka ACLs). The secret is shown by the admin API once,
when the rule is made, and never listed.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ota_stream.alerts.owners import OwnerStore
from ota_stream.config import KafkaSettings, LiveSettings
from ota_stream.models import FieldError, Identifier, format_timestamp

RULE_ID_LENGTH = 16  # hex digits
MAX_URL_LENGTH = 2048
MAX_MIN_EVENTS = 1_000_000


class Metric(StrEnum):
    """What a rule watches, over the closed live windows of one app (alerts/readings.py defines each exactly)."""

    # Rates as docs/api.md#analytics defines them.
    FAILURE_RATE = "failure_rate"  # update_failed / (update_installed + update_failed), as a rate
    ROLLBACK_RATE = "rollback_rate"  # rollback_completed / update_installed, as a rate
    INGEST_SILENCE = "ingest_silence"  # events in the period, after a previous period with min_events or more


@dataclass(frozen=True)
class AlertRule:
    """A rule as stored in the rules topic, secret included."""

    rule_id: str
    tenant_id: str
    metric: Metric
    threshold: float
    window_minutes: int
    min_events: int
    webhook_url: str
    secret: str
    org_id: str | None = None
    app_id: str | None = None
    created_at: str = field(default_factory=lambda: format_timestamp(datetime.now(UTC)))

    @property
    def key(self) -> str:
        return self.rule_id

    def covers(self, app_key: str) -> bool:
        """Whether the app `tenant/org/app` is one this rule watches."""
        tenant, org, app = app_key.split("/", 2)
        return (
            tenant == self.tenant_id
            and (self.org_id is None or org == self.org_id)
            and (self.app_id is None or app == self.app_id)
        )

    def public(self) -> dict[str, Any]:
        """What the admin API lists: everything but the secret."""
        data = self.to_record()
        del data["secret"]
        return data

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "metric": str(self.metric)}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> AlertRule:
        return cls(**{**data, "metric": Metric(data["metric"])})


class NewRule(BaseModel):
    """The body of POST /admin/alerts, before the checks that need settings or DNS (`check`, webhooks.py)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    org_id: Identifier | None = None
    app_id: Identifier | None = None
    metric: Metric
    threshold: Annotated[float, Field(ge=0, le=MAX_MIN_EVENTS, allow_inf_nan=False, strict=True)]
    window_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60, strict=True)]
    min_events: Annotated[int, Field(ge=1, le=MAX_MIN_EVENTS, strict=True)]
    webhook_url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]


def windows_in(window_minutes: int, window_seconds: int) -> int:
    """Live windows in a rule's period: the fewest whole windows that cover `window_minutes`."""
    return max(1, math.ceil(window_minutes * 60 / window_seconds))


def check(rule: NewRule, live: LiveSettings) -> list[FieldError]:
    """What makes a well-formed rule unusable here: the errors name the field, for a 422."""
    errors: list[FieldError] = []
    if rule.app_id is not None and rule.org_id is None:
        errors.append(FieldError("org_id", "is required when app_id names one app"))
    if rule.metric is Metric.INGEST_SILENCE:
        if rule.threshold != int(rule.threshold) or rule.threshold >= rule.min_events:
            errors.append(
                FieldError("threshold", "for ingest_silence: a whole number of events, below min_events")
            )
    elif rule.threshold >= 100:
        errors.append(FieldError("threshold", "a rate in percent: at least 0 and below 100"))
    size, retention = live.window_seconds, live.retention_seconds
    periods = 2 if rule.metric is Metric.INGEST_SILENCE else 1  # silence compares with the previous period
    if periods * windows_in(rule.window_minutes, size) * size > retention:
        longest = retention // (periods * 60)
        errors.append(
            FieldError(
                "window_minutes",
                f"at most {longest} for {rule.metric}: live windows are kept {retention} s "
                "(LIVE_RETENTION_SECONDS)",
            )
        )
    return errors


def make(rule: NewRule) -> AlertRule:
    """A new rule with its id and signing secret, which the 201 answer shows once."""
    return AlertRule(
        rule_id=secrets.token_hex(RULE_ID_LENGTH // 2),
        tenant_id=rule.tenant_id,
        org_id=rule.org_id,
        app_id=rule.app_id,
        metric=rule.metric,
        threshold=rule.threshold,
        window_minutes=rule.window_minutes,
        min_events=rule.min_events,
        webhook_url=rule.webhook_url,
        secret="whsec_" + secrets.token_urlsafe(32),
    )


class RuleStore(OwnerStore[AlertRule]):
    """Every rule of the installation, in every worker: read from the start of the rules topic, then followed."""

    kind = "rule"

    def __init__(self, kafka: KafkaSettings, **kwargs: Any) -> None:
        super().__init__(kafka, kafka.alert_rules_topic, AlertRule.from_record, **kwargs)
