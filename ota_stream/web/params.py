"""Parameters of a route as a pydantic model: the types its fields are made of, the window every analytics route
takes, and `parse`, which turns a request's query and path into the model or a 422 naming the parameter.

A type states its rule once: the same constraints validate the request and write the OpenAPI document
(web/openapi.py), and the 422's message is read back from the field's JSON schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from annotated_types import GroupedMetadata
from multidict import MultiMapping
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ota_stream.models import ID_PATTERN, ID_RULE, parse_rfc3339
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.web.errors import ApiError, invalid

MAX_DAYS = 365
DEFAULT_DAYS = 30
# ClickHouse DateTime covers 1970-01-01 to 2106-02-07; a window outside it is an input error, not a 500.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2106, 1, 1, tzinfo=UTC)

_BROKEN = "rule"  # the error type of our own checks: the message comes from the field's schema


def _broken() -> PydanticCustomError:
    return PydanticCustomError(_BROKEN, "breaks the rule")


def _text_of(pattern: str, convert: Callable[[str], Any]) -> BeforeValidator:
    """A query's text taken only when it matches `pattern`, then converted."""
    compiled = re.compile(pattern)

    def check(raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        if not compiled.match(raw):
            raise _broken()
        return convert(raw)

    return BeforeValidator(check)


# Plain ASCII digits: str.isdigit() also accepts "²", which int() refuses, and pydantic accepts " 5".
_WHOLE = _text_of(r"^[0-9]{1,12}$", int)
# Digits, an optional fraction and exponent: no "nan", "inf" or sign.
_NUMBER = _text_of(r"^[0-9]{1,12}(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?$", float)


def _flag(raw: Any) -> Any:
    """`true` or `false`; anything else (pydantic would take "yes", "1", "on") is a 422 rather than a guess."""
    if raw not in ("true", "false", True, False):
        raise _broken()
    return raw in ("true", True)


def _timestamp(raw: Any) -> Any:
    if isinstance(raw, datetime):
        return raw
    parsed = parse_rfc3339(raw)  # its ValueError's text is the 422's message
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError("must lie between 1970-01-02 and 2106-01-01")
    return parsed


@dataclass(frozen=True)
class Whole(GroupedMetadata):
    """A whole number from `lowest` to `highest`: `Annotated[int, Whole(1, 10)]`."""

    lowest: int
    highest: int

    def __iter__(self) -> Iterator[object]:
        yield Field(
            ge=self.lowest, le=self.highest
        )  # before the validator, so the schema says minimum/maximum
        yield _WHOLE


@dataclass(frozen=True)
class Choice(GroupedMetadata):
    """One of `choices`: `Annotated[str, Choice(...)]`."""

    choices: Collection[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(sorted(self.choices)))  # hashable, as typing needs

    def __iter__(self) -> Iterator[object]:
        options = frozenset(self.choices)

        def check(raw: Any) -> Any:
            if raw not in options:
                raise _broken()
            return raw

        yield WithJsonSchema({"enum": list(self.choices)})
        yield BeforeValidator(check)


Id = Annotated[str, Field(pattern=ID_PATTERN)]
StoredText = Annotated[str, Field(min_length=1, max_length=128)]  # a stored value: a version, a device id
Rate = Annotated[float, Field(ge=0, le=100), _NUMBER]
Flag = Annotated[bool, BeforeValidator(_flag)]
Timestamp = Annotated[
    datetime, WithJsonSchema({"type": "string", "format": "date-time"}), BeforeValidator(_timestamp)
]


class Parameters(BaseModel):
    """The base of every route's parameters: a parameter the route does not declare is a 422."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Window(Parameters):
    """tenant_id, org_id, app_id and the window: what every analytics route takes (docs/api.md#analytics)."""

    tenant_id: Id
    org_id: Id | None = None
    app_id: Id | None = None
    days: Annotated[int, Whole(1, MAX_DAYS)] | None = Field(None, json_schema_extra={"default": DEFAULT_DAYS})
    start: Timestamp | None = Field(None, alias="from")
    end: Timestamp | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _window(self) -> Window:
        """The window's own rules, checked with the others (a 422 naming the parameter, before any query)."""
        self.scope()
        return self

    def scope(self, now: datetime | None = None) -> QueryScope:
        """The tenant scope and window: `days` back from now, or from/to, or the last DEFAULT_DAYS days."""
        now = now or datetime.now(UTC)
        start, end = self.start, self.end
        if self.days is not None:
            if start is not None or end is not None:
                raise invalid("days", "give either days or from/to, not both")
            start, end = now - timedelta(days=self.days), now
        elif start is not None or end is not None:
            if start is None:
                raise invalid("from", "is required when to is given")
            end = end or now
            if end < start:
                raise invalid("to", "must not be before from")
        else:
            start, end = now - timedelta(days=DEFAULT_DAYS), now
        return QueryScope(self.tenant_id, start, end, self.org_id, self.app_id)


Model = TypeVar("Model", bound=BaseModel)


def names(model: type[BaseModel]) -> dict[str, str]:
    """Each parameter's name in the request (its alias) to the model's field name."""
    return {field.alias or name: name for name, field in model.model_fields.items()}


def parse(model: type[Model], query: Mapping[str, str], path: Mapping[str, str]) -> Model:
    """The model from a request's query and path parameters, or a 422 naming the first bad parameter: one the
    route does not take, one given more than once (a check of another may have looked at another one), then the
    first field, in the model's order, that breaks its rule."""
    if model.model_config.get("extra") == "forbid":
        known = names(model)
        for name in query:
            if name not in known:
                raise invalid(name, "unknown parameter")
    if isinstance(query, MultiMapping):
        for name in set(query):
            if len(query.getall(name)) > 1:
                raise invalid(name, "given more than once")
    try:
        return model.model_validate({**query, **path})
    except ValidationError as exc:
        raise _refusal(model, exc) from None


def _refusal(model: type[BaseModel], exc: ValidationError) -> ApiError:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "$"
    schema = field_schema(model, name)
    if error["type"] == "missing":
        message = "is required"
        if "enum" in schema:
            message += f": one of {', '.join(schema['enum'])}"
    elif error["type"] == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = rule(schema)
    return invalid(name, message)


def field_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """A parameter's JSON schema, without the `null` of an optional one, the title or a null default."""
    schema = dict(model.model_json_schema(by_alias=True)["properties"].get(name, {}))
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema = {**options[0], **schema}
    elif options:
        schema["anyOf"] = options
    schema.pop("title", None)
    if schema.get("default", 0) is None:
        del schema["default"]
    return schema


def rule(schema: Mapping[str, Any]) -> str:
    """What a value must be, in words, from its JSON schema: the one place a 422 message is written."""
    if "enum" in schema:
        return f"must be one of {', '.join(schema['enum'])}"
    kind = schema.get("type")
    if kind == "integer":
        return f"must be a whole number from {schema['minimum']} to {schema['maximum']}"
    if kind == "number":
        return f"must be a number from {schema['minimum']} to {schema['maximum']}"
    if kind == "boolean":
        return "must be true or false"
    if schema.get("pattern") == ID_PATTERN:
        return f"must be {ID_RULE}"
    if "maxLength" in schema:
        return f"must be {schema.get('minLength', 0)}-{schema['maxLength']} characters"
    return "is invalid"
