"""Asking a running worker over HTTP, as the end-to-end tests do: analytics answers, /metrics, live windows, and
waiting until the sink has processed what a test sent."""

from __future__ import annotations

import time
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import expected
from tests.support.diagnosis import group_offsets, kafka_report
from tests.support.expected import Window
from tests.support.processes import Worker, wait_for
from tests.support.scenario import Event, post_batches, rfc3339


def adoption(worker: Worker, **params: Any) -> dict[str, Any]:
    response = requests.get(f"{worker.url}/analytics/adoption", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_processed(
    worker: Worker, processed: int, duplicates: int | None = None, idle_timeout: float = 90
) -> None:
    """Wait until the sink has processed `processed` events (and dropped `duplicates`). No total time limit: a
    busy machine drains slowly, so the wait fails only when the counts stop moving for `idle_timeout` seconds."""
    last: tuple[int, int] | None = None
    deadline = time.monotonic() + idle_timeout
    while True:
        try:
            metrics = worker.health()["metrics"]
        except requests.RequestException:  # restarting: the idle clock keeps running
            metrics = None
        if metrics is not None:
            assert metrics["events_processed"] <= processed, metrics
            counts = (metrics["events_processed"], metrics["duplicates_dropped"])
            if counts[0] == processed and duplicates in (None, counts[1]):
                return
            if counts != last:
                last, deadline = counts, time.monotonic() + idle_timeout
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"waiting for {processed} events processed ({duplicates} duplicates): (processed, duplicates) "
                f"stayed {last} for {idle_timeout}s\n{worker.log_tail()}"
            )
        time.sleep(0.25)


ENDPOINTS = [
    ("adoption", {}, expected.adoption),
    ("versions", {}, expected.versions),
    ("versions", {"segment": "device_os"}, expected.versions),
    ("active-devices", {}, expected.active_devices),
    ("failures", {}, expected.failures),
    ("failures", {"group_by": "target_version"}, expected.failures),
    ("performance", {}, expected.performance),
]


def ask_endpoint(worker: Worker, window: Window, name: str, extra: dict[str, str]) -> Any:
    """One analytics endpoint through HTTP, over the window; returns its `data`."""
    base = {"tenant_id": window.tenant_id, "from": rfc3339(window.start), "to": rfc3339(window.end)}
    response = requests.get(f"{worker.url}/analytics/{name}", params={**base, **extra}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def every_endpoint(worker: Worker, window: Window) -> dict[str, Any]:
    """Each endpoint through HTTP; returns the answers by `name extra`."""
    return {f"{name} {extra}": ask_endpoint(worker, window, name, extra) for name, extra, _ in ENDPOINTS}


def scrape(worker: Worker) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name -> {sorted labels: value}"""
    response = requests.get(f"{worker.url}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def kafka_refusals(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
    """Events answered 503 because of Kafka, from `scrape`: not acknowledged in time (`kafka_unavailable`), or
    refused at once while a send in the air had waited too long (`kafka_busy`, the back-pressure)."""
    rejected = samples.get("ota_ingest_rejected_total", {})
    return sum(rejected.get((("reason", reason),), 0.0) for reason in ("kafka_unavailable", "kafka_busy"))


def live(worker: Worker, key: str, last: int = 61) -> list[dict[str, Any]]:
    response = requests.get(f"{worker.url}/live/{key}/windows", params={"last": last}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]["windows"]


def load_and_settle(worker: Worker, sent: list[Event]) -> None:
    """Post `sent` in batches, wait until the sink has stored each distinct event once and dropped the rest, and
    until the broker holds the same story: every partition's committed offset is its end offset (none when
    empty).

    The sink's duplicate count also counts messages read again after a rebalance (a fresh topic's first minutes
    often bring one), so it is checked as at least the duplicates sent; that none was stored twice is the
    processed count, checked exactly once every offset is committed."""
    assert post_batches(worker.url, sent) == len(sent)
    distinct = len(expected.unique(sent))
    wait_processed(worker, distinct)
    wait_for(
        lambda: all((committed or 0) == end for _, end, committed in group_offsets(worker)),
        60,
        "every offset committed",
        diagnose=lambda: kafka_report(worker),
    )
    metrics = worker.health()["metrics"]
    assert metrics["events_processed"] == distinct, metrics
    assert metrics["duplicates_dropped"] >= len(sent) - distinct, metrics
