"""Alert rules, events that breach them, and /metrics readings, for the alert tests and bench/alert_latency.py."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.support.keys import ADMIN, SECURED
from tests.support.processes import Worker, wait_for
from tests.support.scenario import Event, rfc3339

TENANT = "alerting"
ORG = "mobile"
# Workers with keys on, windows of 2 s (they close quickly), an evaluation every half second, fast retries.
ALERT_ENV = {
    **SECURED,
    "LIVE_WINDOW_SECONDS": "2",
    "ALERT_EVALUATION_INTERVAL_SECONDS": "0.5",
    "ALERT_WEBHOOK_ALLOW_PRIVATE": "true",
    "ALERT_DELIVERY_BACKOFF_INITIAL_SECONDS": "0.2",
    "ALERT_DELIVERY_BACKOFF_MAX_SECONDS": "1",
}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
# Webhook URLs that /admin/alerts and /admin/guards refuse (a 422 naming webhook_url) with private webhooks refused.
HOSTILE_URLS = [
    "ftp://93.184.215.14/x", "file:///etc/passwd", "javascript:alert(1)", "gopher://93.184.215.14/", "//93.184.215.14/",
    "https://", "https:///path", "http://93.184.215.14:99999/", "http://93.184.215.14:port/", "http://[::1/",
    "https://user:pass@93.184.215.14/", "https://exa mple.com/", "https://bücher.example/", "http://a\r\nb/",
    "http://127.0.0.1:6066/admin/keys", "http://localhost/", "http://10.0.0.1/", "http://172.16.5.4/",
    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[fc00::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://2130706433/", "http://0x7f.1/", "http://" + "a" * 70 + ".example/", "https://x/" + "a" * 3000, "",
]  # fmt: skip


def make_rule(worker: Worker, url: str, **fields: Any) -> dict[str, Any]:
    """A rule of tenant TENANT through the admin API; the answer's data, signing secret included."""
    body = {"tenant_id": TENANT, "metric": "failure_rate", "threshold": 20, "window_minutes": 10,
            "min_events": 5, "webhook_url": url, **fields}  # fmt: skip
    response = requests.post(f"{worker.url}/admin/alerts", json=body, headers=ADMIN_HEADERS, timeout=30)
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def wait_rules_ready(worker: Worker) -> None:
    """Wait until the worker has read the keys and the alert rules (until then admin routes answer 503)."""

    def ready() -> bool:
        response = requests.get(f"{worker.url}/admin/alerts", headers=ADMIN_HEADERS, timeout=10)
        assert response.status_code in (200, 503), response.text
        return response.status_code == 200

    wait_for(ready, 60, "the keys and alert rules to be read")


def ingest_key(worker: Worker) -> str:
    wait_rules_ready(worker)
    response = requests.post(
        f"{worker.url}/admin/keys", json={"tenant_id": TENANT, "scopes": ["ingest"]}, headers=ADMIN_HEADERS,
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["key"])


def events(
    app: str, event_type: str, count: int, ago: float = 0.0, org: str = ORG, **extra: Any
) -> list[Event]:
    """`count` events of one type for app TENANT/`org`/`app`, `ago` seconds old, each from its own device."""
    at = rfc3339(datetime.now(UTC) - timedelta(seconds=ago))
    return [
        {"tenant_id": TENANT, "org_id": org, "app_id": app, "device_id": f"{app}-{uuid.uuid4().hex[:8]}",
         "event_type": event_type, "timestamp": at, "event_id": uuid.uuid4().hex, **extra}
        for _ in range(count)
    ]  # fmt: skip


def send(worker: Worker, key: str, batch: list[Event]) -> float:
    """POST the events in one request (so that one batch applies them to the live windows at once); returns
    time.time() just before the POST."""
    started = datetime.now(UTC).timestamp()
    response = requests.post(
        f"{worker.url}/events/batch", json=batch, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 202 and response.json()["accepted"] == len(batch), response.text
    return started


def metric(worker: Worker, name: str, **labels: str) -> float:
    """One sample of the worker's /metrics (0 when absent)."""
    text = requests.get(f"{worker.url}/metrics", timeout=10).text
    selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{selector}}}" if selector else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def passes(*workers: Worker) -> float:
    return sum(metric(w, "ota_alert_evaluations_total") for w in workers)


def wait_passes(count: int, *workers: Worker) -> None:
    """Wait until the workers have made `count` more evaluation passes than now."""
    target = passes(*workers) + count
    wait_for(lambda: passes(*workers) >= target, 60, f"{count} evaluation passes")


def rate(part: int, whole: int) -> float:
    """docs/api.md#analytics, computed here independently of the worker."""
    return round(100 * part / whole, 2) if whole else 0.0


def refused_fields(answer: requests.Response) -> set[str]:
    """The fields a 422 of the admin API names (each refusal says what and where)."""
    assert answer.status_code == 422, (answer.status_code, answer.text)
    error = answer.json()["error"]
    assert error["code"] and error["message"]
    return {detail["field"] for detail in error["details"]}


# Bodies /admin/alerts and /admin/guards refuse before reading a field: (body, content type, status).
MALFORMED_BODIES = [
    ("{", "application/json", 400), ("[1, 2]", "application/json", 422), ('"x"', "application/json", 422),
    ("{}", "text/plain", 415), ("[" * 100_000, "application/json", 413), ("\xff", "application/json", 400),
]  # fmt: skip


def malformed(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]
