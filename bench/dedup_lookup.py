"""The sink's duplicate check on the data of analytics_bench.py: the raw table scan against the key index.

For each tenant, times (median of --runs, fresh ids every run, so that no cache answers) the old check (scan the
tenant's event_id column for the batch's ids) and the new one (CANDIDATES_SQL on event_keys, then the raw table
only for the candidates), for a batch of new ids and for a batch half of stored ids. Usage, after
analytics_bench.py has loaded its data:

    .venv/bin/python bench/dedup_lookup.py
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.writer import CANDIDATES_SQL, EXISTING_KEYS_SQL

HERE = Path(__file__).parent


def _half_stored(stored: list[str], run: int) -> list[str]:
    return stored[run * 500 % 5000 :][:500] + [str(uuid.uuid4()) for _ in range(500)]


def timed(ch: ClickHouse, sql: str, tenant: str, ids: list[str]) -> tuple[float, list[tuple[object, ...]]]:
    started = time.perf_counter()
    rows = ch.query_rows(sql, {"tenants": [tenant], "event_ids": ids})
    return (time.perf_counter() - started) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=HERE / "out" / "chdb")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ch = ClickHouse(ClickHouseConfig(f"chdb://{args.data_dir.resolve()}", "bench"))
    ch.connect()
    tenants = ch.query_rows("SELECT tenant_id, count() FROM ota_events_raw GROUP BY tenant_id ORDER BY 2")
    print(
        "| tenant | events | batch | raw scan ms | index ms | candidates | confirm ms | index + confirm ms |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for tenant, events in tenants:
        stored = [
            row[0]
            for row in ch.query_rows(
                "SELECT event_id FROM ota_events_raw WHERE tenant_id = {t:String} ORDER BY rand() LIMIT 5000",
                {"t": tenant},
            )
        ]
        batches: dict[str, Callable[[int], list[str]]] = {
            "1,000 new": lambda _: [str(uuid.uuid4()) for _ in range(1000)],
            "500 stored + 500 new": partial(_half_stored, stored),
        }
        for label, make in batches.items():
            scan, index, confirm, found = [], [], [], []
            for run in range(args.runs):
                ids = make(run)
                scan.append(timed(ch, EXISTING_KEYS_SQL, tenant, ids)[0])
                ms, candidates = timed(ch, CANDIDATES_SQL, tenant, make(run + 1))
                index.append(ms)
                found.append(len(candidates))
                confirm.append(
                    timed(ch, EXISTING_KEYS_SQL, tenant, [str(r[0]) for r in candidates])[0]
                    if candidates
                    else 0.0
                )
            total = [i + c for i, c in zip(index, confirm, strict=True)]
            medians = " | ".join(f"{statistics.median(m):.0f}" for m in (scan, index, found, confirm, total))
            print(f"| {tenant} | {events:,} | {label} | {medians} |", flush=True)


if __name__ == "__main__":
    main()
