"""Guards: what `POST /admin/guards` accepts, how a guard is stored and distributed.

Guards live in a compacted topic (`<KAFKA_CONSUMER_GROUP>-guards`, kafka/compacted.py), like alert rules: every
worker holds all of them, they survive restarts, and a new or deleted guard reaches every worker within a poll.
Like a rule, a guard keeps its signing secret as it is (the worker signs each decision with it), shown by the
admin API once, when the guard is made.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ota_stream.alerts.owners import OwnerStore
from ota_stream.alerts.rules import MAX_URL_LENGTH
from ota_stream.config import KafkaSettings
from ota_stream.kafka.envelope import partition_for
from ota_stream.models import Identifier, ShortText, format_timestamp
from ota_stream.storage.queries import compare, release_health

GUARD_ID_LENGTH = 16  # hex digits
GUARD_ID_PATTERN = rf"^[0-9a-f]{{{GUARD_ID_LENGTH}}}$"
DEFAULT_WATCH_HOURS, MAX_WATCH_HOURS = 72, 720
Rate = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]


class Action(StrEnum):
    """What the decision asks the receiver to do; the service only sends it (docs/alerts.md has recipes)."""

    PAUSE = "pause"
    ROLLBACK = "rollback"
    NOTIFY = "notify"


class GateRules(BaseModel):
    """The health gate's parameters (GET /analytics/releases/{version}/health), with its defaults."""

    model_config = ConfigDict(extra="forbid")

    max_failure_rate: Rate = 5.0
    max_rollback_rate: Rate = 2.0
    min_devices: Annotated[int, Field(ge=1, le=release_health.MAX_MIN_DEVICES, strict=True)] = 50
    max_crash_rate: Rate | None = None
    baseline: ShortText | None = None
    max_regression: Rate = 1.0
    hours: Annotated[int, Field(ge=1, le=compare.MAX_HOURS, strict=True)] = compare.DEFAULT_HOURS
    confidence: Annotated[bool, Field(strict=True)] = False

    def thresholds(self) -> release_health.Thresholds:
        return release_health.Thresholds(**self.model_dump())


class NewGuard(BaseModel):
    """The body of POST /admin/guards, before the checks that need DNS (alerts/webhooks.py)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: Identifier
    org_id: Identifier
    app_id: Identifier
    channel: ShortText | None = None
    rules: GateRules = Field(default_factory=GateRules)
    action: Action
    webhook_url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    watch_hours: Annotated[int, Field(ge=1, le=MAX_WATCH_HOURS, strict=True)] = DEFAULT_WATCH_HOURS


@dataclass(frozen=True)
class Guard:
    """A guard as stored in the guards topic, secret included."""

    guard_id: str
    tenant_id: str
    org_id: str
    app_id: str
    rules: dict[str, Any]
    action: Action
    webhook_url: str
    secret: str
    watch_hours: int = DEFAULT_WATCH_HOURS
    channel: str | None = None
    created_at: str = field(default_factory=lambda: format_timestamp(datetime.now(UTC)))

    @property
    def key(self) -> str:
        return self.guard_id

    @property
    def app_key(self) -> str:
        return f"{self.tenant_id}/{self.org_id}/{self.app_id}"

    def thresholds(self) -> release_health.Thresholds:
        return GateRules(**self.rules).thresholds()

    def partition(self, partitions: int) -> int:
        """The partition of its decisions: its id hashed as Kafka's default partitioner does, which Faust's
        `table_route` follows to the worker that owns them."""
        return partition_for(self.guard_id.encode(), partitions)

    def public(self) -> dict[str, Any]:
        """What the admin API lists: everything but the secret."""
        data = self.to_record()
        del data["secret"]
        return data

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "action": str(self.action)}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Guard:
        return cls(**{**data, "action": Action(data["action"])})


def make(spec: NewGuard) -> Guard:
    """A new guard with its id and signing secret, which the 201 answer shows once."""
    return Guard(
        guard_id=secrets.token_hex(GUARD_ID_LENGTH // 2),
        tenant_id=spec.tenant_id,
        org_id=spec.org_id,
        app_id=spec.app_id,
        rules=spec.rules.model_dump(),
        action=spec.action,
        webhook_url=spec.webhook_url,
        secret="whsec_" + secrets.token_urlsafe(32),
        watch_hours=spec.watch_hours,
        channel=spec.channel,
    )


def topic(kafka: KafkaSettings) -> str:
    """The compacted topic that holds this installation's guards (its consumer group's)."""
    return f"{kafka.consumer_group}-guards"


class GuardStore(OwnerStore[Guard]):
    """Every guard of the installation, in every worker: read from the start of the guards topic, then followed."""

    kind = "guard"

    def __init__(self, kafka: KafkaSettings, **kwargs: Any) -> None:
        super().__init__(kafka, topic(kafka), Guard.from_record, **kwargs)
