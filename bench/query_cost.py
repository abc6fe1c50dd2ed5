"""Where an analytics request's time goes: statements per request, time inside ClickHouse, rows and bytes read.

    .venv/bin/python bench/query_cost.py --events 20000 --devices 4000
    .venv/bin/python bench/query_cost.py --events 10000000 --data-dir /tmp/bench10m --reuse

Loads the synthetic events of analytics_bench.py (or reuses them), then calls each endpoint's query function
through a client that records every statement it runs: how many per request, the time chDB (or a server) reports
for each (`elapsed_ns` of the result's summary; a server's `X-ClickHouse-Summary` has the same keys as its
query_log's `query_duration_ms`, `read_rows`, `read_bytes`), and the rows and bytes read. "Python" is the rest of
the call's wall time: building the SQL, thread hops, decoding and shaping the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ota_stream.storage.client import ClickHouse, ClickHouseConfig

try:
    from bench import analytics_bench as ab
    from bench.release_endpoints import release_endpoints
except ImportError:  # run as a script: bench/ is on sys.path, the repository root is not
    import analytics_bench as ab  # type: ignore[no-redef]
    from release_endpoints import release_endpoints  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


@dataclass
class Statement:
    sql: str
    parameters: dict[str, Any] | None
    settings: dict[str, Any] | None
    elapsed_ms: float  # inside ClickHouse


@dataclass
class Recorded:
    """The statements of one request."""

    statements: list[Statement] = field(default_factory=list)


class RecordingClickHouse(ClickHouse):
    """A client that keeps the summary of every statement run while `recording()` is open."""

    _current: Recorded | None = None
    _lock = threading.Lock()

    @contextmanager
    def recording(self) -> Iterator[Recorded]:
        recorded = Recorded()
        self._current = recorded
        try:
            yield recorded
        finally:
            self._current = None

    def query_rows(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        result = self.client.query(sql, parameters=parameters, settings=settings)
        if self._current is not None:
            elapsed = int(result.summary.get("elapsed_ns", 0) or 0) / 1e6
            with self._lock:
                self._current.statements.append(Statement(sql, parameters, settings, elapsed))
        return [tuple(row) for row in result.result_rows]

    def read_volume(self, statement: Statement) -> tuple[int, int]:
        """(rows, bytes) the statement reads from tables: the `statistics` of its JSON output, which count what
        the storage read (the Native result's summary from chDB counts the rows it returned)."""
        body = self.client.raw_query(statement.sql, statement.parameters, statement.settings, fmt="JSON")
        statistics = orjson.loads(body)["statistics"]
        return int(statistics["rows_read"]), int(statistics["bytes_read"])


@dataclass(frozen=True)
class Cost:
    """Medians over the timed requests of one endpoint."""

    statements: int
    wall_ms: float
    cpu_ms: float  # of this process, chDB's threads included: moves far less than the wall time with the load
    inside_ms: float
    read_rows: int
    read_bytes: int

    @property
    def python_ms(self) -> float:
        return max(self.wall_ms - self.inside_ms, 0.0)


async def measure(ch: RecordingClickHouse, scope: Any, call: ab.Endpoint, runs: int) -> Cost:
    walls, cpus, insides, counts = [], [], [], []
    for run in range(ab.WARMUP + runs):
        with ch.recording() as recorded:
            started, used = time.perf_counter(), time.process_time()
            await call(ch, scope, True)
            wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - used) * 1000
        if run < ab.WARMUP:
            continue
        walls.append(wall)
        cpus.append(cpu)
        insides.append(sum(s.elapsed_ms for s in recorded.statements))
        counts.append(len(recorded.statements))
    volumes = [ch.read_volume(statement) for statement in recorded.statements]
    return Cost(
        int(np.median(counts)),
        float(np.median(walls)),
        float(np.median(cpus)),
        float(np.median(insides)),
        sum(rows for rows, _ in volumes),
        sum(size for _, size in volumes),
    )


# The yardstick of issue 30: one plain pass of ClickHouse over the app's raw events of the window (events,
# distinct devices, an hourly series). A view-backed answer slower than half of it has not earned its views.
PLAIN_PASS = """
SELECT count(), uniqExact(device_id), (
    SELECT groupArray((hour, n)) FROM (
        SELECT toStartOfHour(timestamp) AS hour, count() AS n FROM ota_events_raw WHERE {where}
        GROUP BY hour ORDER BY hour
    )
)
FROM ota_events_raw WHERE {where}
"""


async def plain_pass(ch: ClickHouse, scope: Any, views: bool) -> Any:
    where, params = scope.window()
    return await ch.query(PLAIN_PASS.format(where=where), params)


TABLE_HEAD = (
    "| endpoint | statements | wall p50 ms | CPU p50 ms | in ClickHouse ms | Python ms | x plain pass (wall, CPU) "
    "| rows read | bytes read |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def row(name: str, cost: Cost, plain: Cost) -> str:
    return (
        f"| {name} | {cost.statements} | {cost.wall_ms:.1f} | {cost.cpu_ms:.1f} | {cost.inside_ms:.1f} | "
        f"{cost.python_ms:.1f} | {cost.wall_ms / plain.wall_ms:.2f}, {cost.cpu_ms / plain.cpu_ms:.2f} | "
        f"{cost.read_rows:,} | {cost.read_bytes:,} |"
    )


async def report(ch: RecordingClickHouse, world: ab.World, runs: int) -> str:
    largest = int(np.argmax(np.bincount(world.device["app"])))
    tenant, org, app = ab.APPS[largest]
    now = datetime.now(UTC)
    scope = ab.QueryScope(tenant, now - timedelta(days=30), now, org, app)
    gated = world.versions[largest * (ab.RELEASES + 1) + ab.RELEASES - 2]
    device = world.device_ids[int(np.flatnonzero(world.device["app"] == largest)[0])].as_py()
    lines = [TABLE_HEAD]
    plain = await measure(ch, scope, plain_pass, runs)
    endpoints = {**ab.ENDPOINTS, **release_endpoints(gated, device)}
    lines.append(row("plain pass over raw events", plain, plain))
    for name, call in endpoints.items():
        lines.append(row(name, await measure(ch, scope, call, runs), plain))
        print(lines[-1], file=sys.stderr)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"App `{tenant}/{org}/{app}`, now-30d..now; load average {load}.\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Statements, time in ClickHouse and rows read per request.")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--devices", type=int, help="default: events / 50")
    parser.add_argument("--data-dir", type=Path, default=HERE / "out" / "cost")
    parser.add_argument("--reuse", action="store_true", help="skip loading if there are --events rows")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    world = ab.build_world(args.events, args.devices or args.events // 50)
    ch = RecordingClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    print(ab.prepare(ch, world, args), file=sys.stderr)
    print(asyncio.run(report(ch, world, args.runs)))


if __name__ == "__main__":
    main()
