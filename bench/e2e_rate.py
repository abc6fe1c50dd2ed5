"""POST → queryable rate against a running worker (e.g. `make dev`).

    .venv/bin/python -m bench.e2e_rate --url http://127.0.0.1:6400 --events 50000

Sends synthetic events with `/events/batch` from several threads, then waits until the worker's /health reports
them processed, and prints the rate of each phase. Use a fresh tenant each run (the default is random).
"""

from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests


def events(tenant: str, count: int) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    types = ["update_started", "update_downloaded", "update_installed", "update_failed"]
    return [
        {
            "tenant_id": tenant,
            "org_id": "bench",
            "app_id": f"app{i % 5}",
            "device_id": f"device-{i % 20000}",
            "event_type": types[i % 4],
            "timestamp": (now - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "event_id": f"{tenant}-{i}",
            "release_info": {"current_version": "1.0.0", "target_version": "1.1.0"},
            "performance_metrics": {"download_speed_mbps": 10.5, "battery_level": 80},
        }
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:6400")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    payload = events(tenant, args.events)
    batches = [payload[i : i + args.batch] for i in range(0, len(payload), args.batch)]
    before = requests.get(f"{args.url}/health", timeout=10).json()["metrics"]["events_processed"]
    session = requests.Session()

    def post(batch: list[dict[str, Any]]) -> int:
        response = session.post(f"{args.url}/events/batch", json=batch, timeout=60)
        response.raise_for_status()
        return int(response.json()["accepted"])

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        accepted = sum(pool.map(post, batches))
    posted = time.perf_counter()
    while True:
        processed = (
            requests.get(f"{args.url}/health", timeout=10).json()["metrics"]["events_processed"] - before
        )
        if processed >= accepted:
            break
        time.sleep(0.05)
    done = time.perf_counter()
    print(
        f"events={accepted} ingest_202={accepted / (posted - started):.0f}/s "
        f"post_to_queryable={accepted / (done - started):.0f}/s total={done - started:.2f}s"
    )


if __name__ == "__main__":
    main()
