"""Where one statement's time goes: analysis and planning against execution, and each branch of the release list.

    .venv/bin/python bench/statement_cost.py --data-dir /tmp/views/c20k
    .venv/bin/python bench/statement_cost.py --data-dir /tmp/views/b10m

Reads data that `analytics_bench.py` or `query_cost.py` loaded (database `bench`), on the app `acme/consumer/shop` and
the window now-30d..now. For `/analytics/releases`' one statement (release_sql.FAST) and `/analytics/stability`'s
(stability_sql.PER_VERSION) it times, in this process (chDB's threads included in the CPU column):
- the statement itself;
- `EXPLAIN QUERY TREE` (parsing and analysis), `EXPLAIN PLAN` (and planning) and `EXPLAIN PIPELINE` (and building
  the pipeline, without running it): at small sizes these are most of the statement;
- each branch of the release list's UNION ALL alone, and the window's sessions merged per session with only their
  count kept, with their fixed-width keys kept (schema/014_session_keys.sql), and with each session's version hash
  (stability_sql.sessions).
Medians of --runs runs.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.queries import releases, stability
from ota_stream.storage.queries.release_sql import FAST
from ota_stream.storage.queries.scope import QueryScope
from ota_stream.storage.queries.stability_sql import NO_TIES, PER_VERSION, PER_VERSION_FIGURES
from ota_stream.storage.queries.stability_sql import rows as session_rows
from ota_stream.storage.queries.stability_sql import sessions as merged_sessions

# A release-list branch that yields nothing, standing in for the branches not being timed.
NO_PAIRS = (
    "SELECT '' AS version, toUInt64(0) AS device, toDateTime64(0, 3, 'UTC') AS first_install, "
    "toUInt8(0) AS failed WHERE 0"
)
NO_DURATIONS = (
    "SELECT '' AS version, toUInt64(0) AS device, toDateTime64(0, 3, 'UTC') AS first_ts, "
    "CAST([], 'Array(Float64)') AS install_durations WHERE 0"
)
NO_ROLLBACKS = "(SELECT toUInt64(0) AS vh, toUInt64(0) AS device WHERE 0)"


def timed(ch: ClickHouse, name: str, sql: str, params: dict[str, Any], runs: int) -> None:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        ch.query_rows(sql, params)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    cpus.sort()
    print(f"| {name} | {walls[runs // 2]:.1f} | {cpus[runs // 2]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Analysis, planning and execution of the heaviest statements."
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ch = ClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    now = datetime.now(UTC)
    scope = QueryScope("acme", now - timedelta(days=30), now, "consumer", "shop")
    params: dict[str, Any] = {}
    parts = releases.fast_branches(scope, None, True, params)
    full = FAST.format(**parts)
    print("| statement | wall p50 ms | CPU p50 ms |\n|---|---:|---:|")
    timed(ch, "SELECT 1", "SELECT 1", {}, args.runs)
    timed(ch, "release list", full, params, args.runs)
    for explain in ("QUERY TREE", "PLAN", "PIPELINE"):
        timed(ch, f"release list, EXPLAIN {explain}", f"EXPLAIN {explain} {full}", params, args.runs)
    alone = {
        "pairs": NO_PAIRS,
        "durations": NO_DURATIONS,
        "rolled_back": NO_ROLLBACKS,
        "total": "",
        "sessions": "",
    }
    for name in parts:
        timed(
            ch,
            f"release list, branch {name} alone",
            FAST.format(**{**alone, name: parts[name]}),
            params,
            args.runs,
        )
    hybrid = scope.hybrid("hour")
    sql, session_params = stability.sessions_sql(hybrid, None, ["crashed", "crashes", "launch_durations"])
    figures = PER_VERSION_FIGURES.format(sessions=sql)
    timed(ch, "stability", PER_VERSION.format(figures=figures), session_params, args.runs)
    timed(ch, "stability, EXPLAIN PIPELINE", f"EXPLAIN PIPELINE {PER_VERSION.format(figures=figures)}",
          session_params, args.runs)  # fmt: skip
    window = session_rows(hybrid.view_where, hybrid.raw_where, [])
    by_session = f"FROM ({window}) GROUP BY device, session"
    timed(ch, "sessions merged, count kept", f"SELECT count() FROM (SELECT device {by_session})", hybrid.params,
          args.runs)  # fmt: skip
    keys = f"SELECT device, min(earliest) AS e, max(mirror) AS m {by_session}"
    timed(
        ch, "sessions merged, keys kept", f"SELECT sum(toUInt64(e)) FROM ({keys})", hybrid.params, args.runs
    )
    decoded = merged_sessions(hybrid.view_where, hybrid.raw_where, [], False)
    timed(ch, "sessions merged, version hash", f"SELECT vh, count() FROM ({decoded}) GROUP BY vh",
          {**hybrid.params, **NO_TIES}, args.runs)  # fmt: skip


if __name__ == "__main__":
    main()
