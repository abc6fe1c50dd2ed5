"""The tenant scope and time window of an analytics query, and how a window splits between views and raw.

A view holds whole buckets (hours or days). A window [start, end] rarely falls on bucket edges, so it is cut in
three: the whole buckets inside it come from the view, and the partial buckets at each end from the raw table.
All of it is constant SQL; every value is bound as a server-side parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from ota_stream.models import format_timestamp

Bucket = Literal["hour", "day"]


def ch_datetime(value: datetime) -> str:
    """A DateTime64(3, 'UTC') parameter value; the datetime must be in UTC."""
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def rfc3339(value: datetime) -> str:
    """A DateTime64 as clickhouse-connect returns it (naive, in UTC), in RFC 3339 with milliseconds."""
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return format_timestamp(moment)


def rate(part: int, whole: int) -> float:
    """`round(100 * a / b, 2)`, and 0 when b is 0 (docs/api.md#analytics)."""
    return round(100 * part / whole, 2) if whole else 0.0


def _floor(value: datetime, bucket: Bucket) -> datetime:
    if bucket == "hour":
        return value.replace(minute=0, second=0, microsecond=0)
    return datetime.combine(value.date(), time(), UTC)


def _ceil(value: datetime, bucket: Bucket) -> datetime:
    floor = _floor(value, bucket)
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    return floor if floor == value else floor + step


RAW_WINDOW = "timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp <= {end:DateTime64(3, 'UTC')}"


@dataclass(frozen=True)
class Hybrid:
    """WHERE clauses for the view part and the raw part of one window, and their parameters."""

    view_where: str
    raw_where: str
    params: dict[str, Any]


@dataclass(frozen=True)
class QueryScope:
    """tenant_id is required; org_id and app_id narrow it. The window is [start, end], in UTC."""

    tenant_id: str
    start: datetime
    end: datetime
    org_id: str | None = None
    app_id: str | None = None

    def dims(self) -> tuple[str, dict[str, Any]]:
        clauses = ["tenant_id = {tenant_id:String}"]
        params: dict[str, Any] = {"tenant_id": self.tenant_id}
        if self.org_id is not None:
            clauses.append("org_id = {org_id:String}")
            params["org_id"] = self.org_id
        if self.app_id is not None:
            clauses.append("app_id = {app_id:String}")
            params["app_id"] = self.app_id
        return " AND ".join(clauses), params

    def window(self) -> tuple[str, dict[str, Any]]:
        """The raw table's WHERE for the whole window, for queries that read raw rows only."""
        dims, params = self.dims()
        params.update(start=ch_datetime(self.start), end=ch_datetime(self.end))
        return f"{dims} AND {RAW_WINDOW}", params

    def hybrid(self, bucket: Bucket, use_views: bool = True, prefix: str = "") -> Hybrid:
        """Whole buckets from the view (column `hour` or `date`), the edges from raw `timestamp`.

        With `use_views=False`, or a window holding no whole bucket, everything comes from raw. `prefix` renames
        the window's parameters, so that one statement can hold windows of two bucket sizes.
        """
        full_start, full_end = _ceil(self.start, bucket), _floor(self.end, bucket)
        if not use_views or full_start >= full_end:
            full_start = full_end = self.start
        dims, params = self.dims()
        first, last, head_end, tail_start = (
            prefix + n for n in ("full_start", "full_end", "head_end", "tail_start")
        )
        if bucket == "hour":
            view_range = f"hour >= {{{first}:DateTime('UTC')}} AND hour < {{{last}:DateTime('UTC')}}"
            params[first] = full_start.strftime("%Y-%m-%d %H:%M:%S")
            params[last] = full_end.strftime("%Y-%m-%d %H:%M:%S")
        else:
            view_range = f"date >= {{{first}:Date}} AND date < {{{last}:Date}}"
            params[first] = full_start.strftime("%Y-%m-%d")
            params[last] = full_end.strftime("%Y-%m-%d")
        params.update(start=ch_datetime(self.start), end=ch_datetime(self.end))
        params[head_end], params[tail_start] = ch_datetime(full_start), ch_datetime(full_end)
        raw_range = (
            f"((timestamp >= {{start:DateTime64(3, 'UTC')}} AND timestamp < {{{head_end}:DateTime64(3, 'UTC')}})"
            f" OR (timestamp >= {{{tail_start}:DateTime64(3, 'UTC')}} AND timestamp <= {{end:DateTime64(3, 'UTC')}}))"
        )
        return Hybrid(f"{dims} AND {view_range}", f"{dims} AND {raw_range}", params)
