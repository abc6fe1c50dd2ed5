"""Query parameters of the analytics routes (docs/api.md#analytics), with a 422 naming the parameter when one is bad."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import overload

from multidict import MultiMapping

from ota_stream.models import ID_PATTERN, ID_RULE, parse_rfc3339
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.web.errors import invalid

_IDENTIFIER = re.compile(ID_PATTERN)
_WHOLE = re.compile(r"^[0-9]{1,12}$")
COMMON = frozenset({"tenant_id", "org_id", "app_id", "days", "from", "to"})
MAX_DAYS = 365


def is_whole(raw: str) -> bool:
    """Plain ASCII digits: str.isdigit() also accepts "²", which int() refuses (a 500 before this check)."""
    return _WHOLE.match(raw) is not None


def identifier(query: Mapping[str, str], name: str, required: bool = False) -> str | None:
    value = query.get(name)
    if value is None:
        if required:
            raise invalid(name, "is required")
        return None
    if not _IDENTIFIER.match(value):
        raise invalid(name, f"must be {ID_RULE}")
    return value


def text(query: Mapping[str, str], name: str, max_length: int = 128) -> str | None:
    value = query.get(name)
    if value is not None and not 1 <= len(value) <= max_length:
        raise invalid(name, f"must be 1-{max_length} characters")
    return value


def choice(query: Mapping[str, str], name: str, choices: Collection[str], default: str | None) -> str | None:
    value = query.get(name, default)
    if value is not None and value not in choices:
        raise invalid(name, f"must be one of {', '.join(sorted(choices))}")
    return value


# ClickHouse DateTime covers 1970-01-01 to 2106-02-07; a window outside it is an input error, not a 500.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2106, 1, 1, tzinfo=UTC)


def _timestamp(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        parsed = parse_rfc3339(value)
    except ValueError as exc:
        raise invalid(name, str(exc)) from None
    if not EARLIEST <= parsed <= LATEST:
        raise invalid(name, "must lie between 1970-01-02 and 2106-01-01")
    return parsed


def only_known(query: Mapping[str, str], known: Collection[str]) -> None:
    """422 naming the first parameter the route does not take, or one given more than once (the first of its
    values would be used, and a check of another may have looked at another one)."""
    for name in query:
        if name not in known:
            raise invalid(name, "unknown parameter")
    for name in set(query):
        if isinstance(query, MultiMapping) and len(query.getall(name)) > 1:
            raise invalid(name, "given more than once")


def scope(query: Mapping[str, str], extra: Collection[str] = (), now: datetime | None = None) -> QueryScope:
    """Parse tenant_id, org_id, app_id and the window; any parameter not known to the route is a 422."""
    only_known(query, COMMON | set(extra))
    tenant_id = identifier(query, "tenant_id", required=True)
    assert tenant_id is not None
    now = now or datetime.now(UTC)
    start, end = _timestamp(query, "from"), _timestamp(query, "to")
    if "days" in query:
        if start is not None or end is not None:
            raise invalid("days", "give either days or from/to, not both")
        raw = query["days"]
        if not is_whole(raw) or not 1 <= int(raw) <= MAX_DAYS:
            raise invalid("days", f"must be a whole number from 1 to {MAX_DAYS}")
        start, end = now - timedelta(days=int(raw)), now
    elif start is not None or end is not None:
        if start is None:
            raise invalid("from", "is required when to is given")
        end = end or now
        if end < start:
            raise invalid("to", "must not be before from")
    else:
        start, end = now - timedelta(days=30), now
    return QueryScope(tenant_id, start, end, identifier(query, "org_id"), identifier(query, "app_id"))


def integer(query: Mapping[str, str], name: str, lowest: int, highest: int, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not is_whole(raw) or not lowest <= int(raw) <= highest:
        raise invalid(name, f"must be a whole number from {lowest} to {highest}")
    return int(raw)


_NUMBER = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?$")


@overload
def percentage(query: Mapping[str, str], name: str, default: float) -> float: ...


@overload
def percentage(query: Mapping[str, str], name: str, default: None) -> float | None: ...


def percentage(query: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A rate threshold: a decimal number from 0 to 100 (digits, an optional fraction and exponent)."""
    raw = query.get(name)
    if raw is None:
        return default
    if not _NUMBER.match(raw) or not 0 <= float(raw) <= 100:
        raise invalid(name, "must be a number from 0 to 100")
    return float(raw)


def flag(query: Mapping[str, str], name: str) -> bool:
    """A switch: `true` or `false` (absent: false); anything else is a 422 rather than a guess."""
    raw = query.get(name, "false")
    if raw not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return raw == "true"


def path_text(value: str, name: str, max_length: int = 128) -> str:
    """A path parameter that names a stored value (a version, a device id): 1-128 characters, as in docs/events.md."""
    if not 1 <= len(value) <= max_length:
        raise invalid(name, f"must be 1-{max_length} characters")
    return value
