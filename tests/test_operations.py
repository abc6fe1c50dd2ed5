"""Operating the worker: /metrics, /health when ClickHouse is down, JSON logs with request ids, SIGTERM,
and the CLI (loadgen, and Faust's own commands)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import requests

from tests.conftest import WorkerFactory
from tests.support.expected import Window, assert_same, unique
from tests.support.processes import BIN, ROOT, Worker, free_port, wait_for
from tests.support.scenario import Scenario, post_batches
from tests.support.worker_api import ENDPOINTS, adoption, every_endpoint, scrape, wait_processed

SPEC_METRICS = {
    "ota_ingest_accepted": "counter",
    "ota_ingest_rejected": "counter",
    "ota_pipeline_events_processed": "counter",
    "ota_pipeline_batches_flushed": "counter",
    "ota_pipeline_flush_latency_seconds": "histogram",
    "ota_pipeline_insert_retries": "counter",
    "ota_pipeline_dead_lettered": "counter",
    "ota_pipeline_consumer_lag": "gauge",
    "ota_query_latency_seconds": "histogram",
}


def test_metrics_cover_the_spec_and_move(worker: Worker) -> None:
    events = Scenario(now=datetime.now(UTC), tenants=("acme",), devices_per_app=4).build()
    post_batches(worker.url, events)
    bad = requests.post(f"{worker.url}/events", json={"tenant_id": "acme"}, timeout=30)
    assert bad.status_code == 422
    wait_processed(worker, len(unique(events)))
    adoption(worker, tenant_id="acme")
    # Lag is end offset minus committed offset, as Kafka tools count it; commits come every second.
    wait_for(lambda: worker.health()["services"]["kafka"]["consumer_lag"] == 0, 30, "lag to reach 0")

    samples = scrape(worker)
    for name, kind in SPEC_METRICS.items():
        sample = {"counter": f"{name}_total", "histogram": f"{name}_count", "gauge": name}[kind]
        assert sample in samples, f"{sample} is not exported"
    assert samples["ota_ingest_accepted_total"][()] == len(events)
    assert samples["ota_ingest_rejected_total"][(("reason", "validation"),)] == 1
    assert samples["ota_pipeline_events_processed_total"][()] == len(unique(events))
    assert samples["ota_pipeline_batches_flushed_total"][()] >= 1
    assert samples["ota_query_latency_seconds_count"][(("endpoint", "adoption"),)] >= 1
    assert samples["ota_pipeline_consumer_lag"][()] == 0
    assert samples["ota_pipeline_stalled"][()] == 0  # the stall watchdog (tests/test_watchdog.py)
    pipeline = worker.health()["services"]["pipeline"]
    assert (pipeline["status"], pipeline["reason"]) == ("healthy", None)
    assert any(name.startswith("faust_") for name in samples), "Faust's own sensor metrics are missing"
    devices = {e["device_id"] for e in events}
    for values in samples.values():
        for labels in values:
            assert not any(value in devices for _, value in labels), labels


def test_health_is_degraded_while_clickhouse_is_down(make_worker: WorkerFactory) -> None:
    worker = make_worker(CLICKHOUSE_URL=f"http://127.0.0.1:{free_port()}")
    worker.start(wait=False)

    def degraded() -> dict[str, object] | None:
        response = requests.get(f"{worker.url}/health", timeout=10)
        body = response.json()
        return body if response.status_code == 200 and body["status"] == "degraded" else None

    body = wait_for(degraded, 90, "a degraded /health")
    assert body["services"]["clickhouse"]["status"] == "unhealthy"
    assert body["services"]["kafka"]["producer_ready"] is True
    # Ingest still works: events wait in Kafka until ClickHouse is back.
    event = Scenario(now=datetime.now(UTC), tenants=("acme",), devices_per_app=1).build()[0]
    assert requests.post(f"{worker.url}/events", json=event, timeout=30).status_code == 202
    # Analytics answer 503 with Retry-After in the error shape, as the OpenAPI document says; never a 500.
    response = requests.get(f"{worker.url}/analytics/adoption?tenant_id=acme", timeout=30)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


def test_logs_are_json_with_request_ids(make_worker: WorkerFactory) -> None:
    worker = make_worker(LOG_LEVEL="DEBUG")
    worker.start()
    response = requests.get(f"{worker.url}/health", headers={"X-Request-ID": "req-test-42"}, timeout=30)
    assert response.headers["X-Request-ID"] == "req-test-42"
    assert worker.log_path is not None

    def logged() -> bool:
        assert worker.log_path is not None
        for line in worker.log_path.read_text().splitlines():
            record = json.loads(line)  # every line is one JSON object
            assert {"time", "level", "logger", "message"} <= record.keys(), record
            if record.get("request_id") == "req-test-42":
                return True
        return False

    wait_for(logged, 30, "a log line with the request id")


def test_sigterm_mid_stream_loses_and_doubles_nothing(make_worker: WorkerFactory) -> None:
    worker = make_worker(BATCH_SIZE="200")
    worker.start()
    now = datetime.now(UTC)
    events = Scenario(now=now, devices_per_app=40, seed=21).build()
    sender = threading.Thread(target=post_batches, args=(worker.url, events, 50))
    sender.start()
    wait_for(lambda: worker.health()["metrics"]["events_processed"] > 0, 60, "processing to start")
    sender.join(timeout=120)
    assert worker.process is not None
    os.killpg(worker.process.pid, signal.SIGTERM)  # while batches are still flowing through the sink
    assert worker.process.wait(timeout=60) == 0, worker.log_tail()
    worker.process = None

    worker.start()
    # Everything is consumed and committed, and every number is exactly what the events say.
    wait_for(lambda: worker.health()["services"]["kafka"]["consumer_lag"] == 0, 90, "the backlog to drain")
    for tenant in ("acme", "globex"):
        window = Window(tenant, now - timedelta(days=365), now + timedelta(hours=3))
        for (name, extra, compute), got in zip(
            ENDPOINTS, every_endpoint(worker, window).values(), strict=True
        ):
            assert_same(got, compute(events, window, *extra.values()), name)


def test_loadgen_over_http_and_faust_commands(worker: Worker) -> None:
    result = subprocess.run(
        [str(BIN / "ota-stream"), "loadgen", "--url", worker.url, "--events", "1500", "--devices", "50"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "accepted 1500, rejected 0, failed requests 0" in result.stdout
    wait_processed(worker, 1500)

    env = {**os.environ, "DATA_DIR": str(worker.data_dir / "cli")}
    for command, expected_name in (("agents", "clickhouse-sink"), ("tables", "live-windows")):
        listed = subprocess.run(
            [sys.executable, "-m", "faust", "-A", "ota_stream.app", command],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=ROOT,
        )
        assert listed.returncode == 0, listed.stderr
        assert expected_name in listed.stdout
