"""`/analytics/performance`: avg, exact p50/p95 and sample counts of four metrics, and daily averages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ota_stream.storage.queries.scope import QueryScope

if TYPE_CHECKING:  # the client (clickhouse_connect, pyarrow) loads only where a query runs
    from ota_stream.storage.client import ClickHouse

# response name -> (column prefix in performance_daily, raw expression as Nullable(Float64))
METRICS = {
    "download_speed_mbps": ("download_speed", "download_speed_mbps"),
    "download_duration_seconds": ("download_duration", "download_duration_seconds"),
    "install_duration_seconds": ("install_duration", "install_duration_seconds"),
    "package_size_bytes": ("package_size", "toNullable(toFloat64(package_size_bytes))"),
}

_VIEW_COLUMNS = ", ".join(
    f"{p}_q, toFloat64({p}_sum) AS {p}_sum, toUInt64({p}_n) AS {p}_n" for p, _ in METRICS.values()
)
_RAW_COLUMNS = ", ".join(
    f"quantilesExactState(0.5, 0.95)({e}), sum(ifNull({e}, 0)), count({e})" for _, e in METRICS.values()
)
_RAW_PRESENT = " OR ".join(f"{e} IS NOT NULL" for _, e in METRICS.values())
_MERGED = ", ".join(
    f"quantilesExactMerge(0.5, 0.95)({p}_q), sum({p}_sum), sum({p}_n)" for p, _ in METRICS.values()
)

STATES = f"""(
    SELECT date, {_VIEW_COLUMNS} FROM performance_daily WHERE {{view_where}}
    UNION ALL
    SELECT toDate(timestamp) AS date, {_RAW_COLUMNS}
    FROM ota_events_raw WHERE {{raw_where}} AND ({_RAW_PRESENT})
    GROUP BY date
)"""

# The answer in one statement: the four metrics over the window, then per day the sums and counts behind the
# daily averages (sumMap leaves out the days whose values are all zero: those without a sample). At small sizes
# most of a statement's time is ClickHouse analysing and planning it (bench/query_cost.py).
_DAILY = (
    "sumMap([date], [download_speed_sum], [download_speed_n], [install_duration_sum], [install_duration_n])"
)
ANSWER = f"""
SELECT {_MERGED},
    arrayZip(arrayMap(d -> toString(d), ({_DAILY} AS daily).1), daily.2, daily.3, daily.4, daily.5)
FROM {{states}}
"""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _avg(total: float, samples: int) -> float | None:
    return round(total / samples, 2) if samples else None


async def performance(ch: ClickHouse, scope: QueryScope, use_views: bool = True) -> dict[str, Any]:
    hybrid = scope.hybrid("day", use_views)
    states = STATES.format(view_where=hybrid.view_where, raw_where=hybrid.raw_where)
    [merged] = await ch.query(ANSWER.format(states=states), hybrid.params)
    data: dict[str, Any] = {}
    for i, name in enumerate(METRICS):
        quantiles, total, samples = merged[3 * i : 3 * i + 3]
        p50, p95 = quantiles if samples else (None, None)
        data[name] = {"avg": _avg(total, samples), "p50": _round(p50), "p95": _round(p95), "samples": samples}
    data["daily"] = [
        {
            "date": day,
            "avg_download_speed_mbps": _avg(speed_sum, speed_n),
            "avg_install_duration_seconds": _avg(install_sum, install_n),
        }
        for day, speed_sum, speed_n, install_sum, install_n in merged[-1]
    ]
    return data
