"""What every settings group shares: how it reads the environment and how its fields are named there."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict


class Group(BaseSettings):
    """One concern's settings. Field `name` reads the variable `<PREFIX>NAME` (its alias when it has one);
    names are case-insensitive and unknown variables are ignored."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True
    )
    title: ClassVar[str]  # the section of docs/configuration.md that documents the group

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field `name` (or of the alias a validation error names)."""
        info = cls.model_fields.get(name)
        if info is None:
            return name.upper()  # an error names a field by its alias, which is the variable
        alias = info.validation_alias
        if isinstance(alias, str):
            return alias.upper()
        return f"{cls.model_config.get('env_prefix', '')}{name}".upper()

    @classmethod
    def variables(cls) -> dict[str, FieldInfo]:
        return {cls.variable(name): info for name, info in cls.model_fields.items()}


SECRET_WORDS = ("PASSWORD", "KEY")


def describe(group: type[Group], error: ValidationError) -> list[str]:
    """One line per bad variable: its name, what is wrong, and the value given (secrets hidden)."""
    lines = []
    for item in error.errors():
        variable = group.variable(str(item["loc"][0])) if item["loc"] else "?"
        secret = any(word in variable for word in SECRET_WORDS)
        shown: Any = "***" if secret else repr(item.get("input"))
        lines.append(f"  {variable}: {item['msg']} (got {shown})")
    return lines
