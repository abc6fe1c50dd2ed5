"""device_latest with unmerged parts: GROUP BY device against FINAL, on the data of analytics_bench.py.

Copies device_latest (merges stopped), adds N small parts, each a slice of the largest app's devices with an
earlier event (the shape of the sink's inserts: every part scattered over the app's key range), and times the
versions spread both ways. The copy is dropped at the end. Usage, after analytics_bench.py has loaded its data:

    .venv/bin/python bench/device_latest_parts.py --parts 0 10 30
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from ota_stream.storage.client import ClickHouse, ClickHouseConfig

HERE = Path(__file__).parent
APP = "tenant_id = 'acme' AND org_id = 'consumer' AND app_id = 'shop'"
QUERIES = {
    "max() grouped by device": (
        "SELECT m.3 AS v, count() FROM (SELECT device, max(latest) AS m FROM dl_copy WHERE {app} GROUP BY device) "
        "GROUP BY v"
    ),
    "argMax() grouped by device": (
        "SELECT v, count() FROM (SELECT device, argMax(latest.3, (latest.1, latest.2)) AS v FROM dl_copy "
        "WHERE {app} GROUP BY device) GROUP BY v"
    ),
    "FINAL": "SELECT latest.3 AS v, count() FROM dl_copy FINAL WHERE {app} GROUP BY v",
}


def median_ms(ch: ClickHouse, sql: str, runs: int) -> tuple[float, list[tuple[object, ...]]]:
    times, rows = [], []
    for _ in range(runs + 2):
        started = time.perf_counter()
        rows = ch.query_rows(sql)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[2:]), sorted(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / "out" / "chdb")
    parser.add_argument("--parts", type=int, nargs="+", default=[0, 10, 30])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ch = ClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    for extra in args.parts:
        ch.command_sync("DROP TABLE IF EXISTS dl_copy")
        ch.command_sync("CREATE TABLE dl_copy AS device_latest")
        ch.command_sync("SYSTEM STOP MERGES dl_copy")
        ch.command_sync("INSERT INTO dl_copy SELECT * FROM device_latest")
        for i in range(extra):
            ch.command_sync(
                "INSERT INTO dl_copy SELECT tenant_id, org_id, app_id, device, (latest.1 - toIntervalHour(1), "
                f"latest.2, latest.3, latest.4, latest.5, latest.6, latest.7) FROM device_latest WHERE {APP} "
                f"AND cityHash64(device, {i}) % {extra} = 0"
            )
        answers = {}
        for name, sql in QUERIES.items():
            ms, answers[name] = median_ms(ch, sql.format(app=APP), args.runs)
            print(f"{extra + 1:3d} parts  {name:28s} p50 {ms:6.1f} ms", flush=True)
        assert len({str(a) for a in answers.values()}) == 1, "the three queries disagree"
    ch.command_sync("DROP TABLE IF EXISTS dl_copy")


if __name__ == "__main__":
    main()
