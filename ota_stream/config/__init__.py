"""Settings from environment variables, one group per concern (docs/configuration.md, one section per group).

`load_settings` reads every group and stops the process with a message naming each bad variable. The command line
and the app (cli.py, app.py, web/front.py) hold the whole `Settings`; every other module is handed only the group it
needs. Test hooks are no settings: tests inject faults into worker processes themselves (tests/support/faults/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ota_stream.config.base import Group, describe
from ota_stream.config.groups import (
    AlertSettings,
    AuthSettings,
    ClickHouseSettings,
    HttpSettings,
    LiveSettings,
    LogLevel,
    LogSettings,
    PipelineSettings,
    WorkerRole,
)
from ota_stream.config.kafka import Compression, KafkaSettings, SaslMechanism, SecurityProtocol

GROUPS: dict[str, type[Group]] = {
    "http": HttpSettings,
    "kafka": KafkaSettings,
    "clickhouse": ClickHouseSettings,
    "pipeline": PipelineSettings,
    "live": LiveSettings,
    "auth": AuthSettings,
    "alerts": AlertSettings,
    "logs": LogSettings,
}


@dataclass(frozen=True)
class Settings:
    """Every group; each one left out is read from the environment."""

    http: HttpSettings = field(default_factory=HttpSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = field(default_factory=ClickHouseSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    logs: LogSettings = field(default_factory=LogSettings)


class ConfigurationError(SystemExit):
    """Raised at start-up for a bad environment variable: the process exits with status 1."""


def load_settings() -> Settings:
    """Read the environment, or exit with a message naming each bad variable of every group."""
    loaded: dict[str, Group] = {}
    problems: list[str] = []
    for name, group in GROUPS.items():
        try:
            loaded[name] = group()
        except ValidationError as exc:
            problems += describe(group, exc)
    if problems:
        raise ConfigurationError("\n".join(["invalid configuration:", *problems]))
    return Settings(**loaded)  # type: ignore[arg-type]


def variables() -> dict[str, tuple[type[Group], FieldInfo]]:
    """Every environment variable a process reads, with its group and field."""
    return {name: (group, info) for group in GROUPS.values() for name, info in group.variables().items()}


__all__ = [
    "GROUPS",
    "AlertSettings",
    "AuthSettings",
    "ClickHouseSettings",
    "Compression",
    "ConfigurationError",
    "HttpSettings",
    "KafkaSettings",
    "LiveSettings",
    "LogLevel",
    "LogSettings",
    "PipelineSettings",
    "SaslMechanism",
    "SecurityProtocol",
    "Settings",
    "WorkerRole",
    "load_settings",
    "variables",
]
