"""A lone event, a quiet moment, then a burst: the commits of every partition reach the end of the log.

The daily life of an app fleet, and once a partition that never committed again (issue 26): the lone envelope
at offset 0 was read and committed alone, the burst's envelopes were read as joined runs, and Faust's drain loop,
which takes a read offset of 0 for "nothing read", recorded no gap before the first run, so every later commit of
that partition waited for offsets that no message would ever ack. Everything was stored; the lag never fell and
the watchdog called the pipeline stalled. tests/test_offsets.py checks the bookkeeping for any interleaving.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from tests.conftest import WorkerFactory
from tests.support.diagnosis import group_offsets, pipeline_report
from tests.support.processes import Worker, wait_for
from tests.support.scenario import Event, rfc3339
from tests.support.worker_api import wait_processed

CLIENTS = 16
EVENTS_PER_CLIENT = 150


def event(app: int) -> Event:
    return {
        "tenant_id": "burst", "org_id": "o", "app_id": f"app{app}", "device_id": f"d{uuid.uuid4().hex[:8]}",
        "event_type": "update_installed", "timestamp": rfc3339(datetime.now(UTC)), "event_id": str(uuid.uuid4()),
        "release_info": {"current_version": "1.0.0", "target_version": "1.1.0"},
    }  # fmt: skip


def post_singles(worker: Worker, client: int) -> int:
    with requests.Session() as session:
        for n in range(EVENTS_PER_CLIENT):
            response = session.post(f"{worker.url}/events", json=event((client + n) % 16), timeout=30)
            assert response.status_code == 202, response.text
    return EVENTS_PER_CLIENT


def all_committed(worker: Worker) -> bool:
    offsets = group_offsets(worker)
    return bool(offsets) and all((committed or 0) == end for _, end, committed in offsets)


def test_a_lone_event_a_quiet_moment_then_a_burst_commits_every_partition_to_its_end(
    make_worker: WorkerFactory,
) -> None:
    worker = make_worker()
    worker.start()
    report = lambda: pipeline_report(worker)  # noqa: E731

    response = requests.post(f"{worker.url}/events", json=event(0), timeout=30)
    assert response.status_code == 202, response.text
    wait_processed(worker, 1)
    # The quiet moment: the lone event is written and its offset committed alone (offset 0, committed 1).
    wait_for(
        lambda: [c for _, end, c in group_offsets(worker) if end] == [1],
        60,
        "the lone commit",
        diagnose=report,
    )

    with ThreadPoolExecutor(CLIENTS) as pool:
        sent = sum(pool.map(lambda client: post_singles(worker, client), range(CLIENTS)))
    wait_processed(worker, 1 + sent, duplicates=0)

    wait_for(lambda: all_committed(worker), 60, "every partition committed to its end", diagnose=report)
    ends = [end for _, end, _ in group_offsets(worker)]
    assert all(end > 1 for end in ends), ends  # the burst reached every partition, the lone one included
    health = wait_for(
        lambda: (h := worker.health())["services"]["kafka"]["consumer_lag"] == 0 and h, 30, "lag 0"
    )
    assert health["status"] == "healthy", health
    assert health["services"]["pipeline"]["status"] == "healthy", health
