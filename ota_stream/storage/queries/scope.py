"""The tenant scope and time window every analytics query is filtered by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def ch_datetime(value: datetime) -> str:
    """A DateTime64(3, 'UTC') parameter value; the datetime must be in UTC."""
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def rate(part: int, whole: int) -> float:
    """`round(100 * a / b, 2)`, and 0 when b is 0 (spec §3)."""
    return round(100 * part / whole, 2) if whole else 0.0


@dataclass(frozen=True)
class Scope:
    """tenant_id is required; org_id and app_id narrow it. The window is [start, end]."""

    tenant_id: str
    start: datetime
    end: datetime
    org_id: str | None = None
    app_id: str | None = None

    def where(self, time_column: str = "timestamp") -> tuple[str, dict[str, Any]]:
        """A WHERE clause of constant SQL with every value bound as a parameter."""
        clauses = ["tenant_id = {tenant_id:String}"]
        params: dict[str, Any] = {"tenant_id": self.tenant_id}
        if self.org_id is not None:
            clauses.append("org_id = {org_id:String}")
            params["org_id"] = self.org_id
        if self.app_id is not None:
            clauses.append("app_id = {app_id:String}")
            params["app_id"] = self.app_id
        clauses.append(f"{time_column} >= {{start:DateTime64(3, 'UTC')}}")
        clauses.append(f"{time_column} <= {{end:DateTime64(3, 'UTC')}}")
        params["start"] = ch_datetime(self.start)
        params["end"] = ch_datetime(self.end)
        return " AND ".join(clauses), params
