"""The OpenAPI 3.1 document describes every route, and schemathesis finds no 500 and no answer that breaks it."""

from __future__ import annotations

import subprocess

import requests

from tests.support.processes import BIN, Worker

ROUTES = {
    "/events",
    "/events/batch",
    "/analytics/adoption",
    "/analytics/versions",
    "/analytics/active-devices",
    "/analytics/failures",
    "/analytics/performance",
    "/analytics/releases",
    "/analytics/releases/{version}/health",
    "/analytics/releases/{version}/compare",
    "/analytics/releases/{version}/segments",
    "/analytics/stability",
    "/analytics/failures/messages",
    "/analytics/devices/{device_id}/events",
    "/analytics/apps",
    "/analytics/export",
    "/live/{tenant_id}/{org_id}/{app_id}/windows",
    "/live/{tenant_id}/{org_id}/{app_id}/now",
    "/health",
    "/metrics",
    "/admin/keys",
    "/admin/keys/{key_id}",
    "/admin/alerts",
    "/admin/alerts/{rule_id}",
    "/admin/guards",
    "/admin/guards/{guard_id}",
    "/admin/guards/{guard_id}/decisions",
}
CLIENT_ROUTES = {
    "/analytics/events",
    "/capgo/stats",
    "/v0.1/public/codepush/report_status/deploy",
    "/v0.1/public/codepush/report_status/download",
    "/reportStatus/deploy",
    "/reportStatus/download",
    "/hot-updater/events",
}
ROUTES |= CLIENT_ROUTES | {f"/c/{{ingest_key}}{path}" for path in CLIENT_ROUTES}


def test_document_lists_every_route(worker: Worker) -> None:
    document = requests.get(f"{worker.url}/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == ROUTES
    assert {"400", "413", "415", "422", "503"} <= set(document["paths"]["/events"]["post"]["responses"])
    assert "OtaEvent" in document["components"]["schemas"]
    # Every keyed route says which key it takes (optional here: the test worker runs without AUTH_REQUIRED)
    assert set(document["components"]["securitySchemes"]) == {"bearerKey", "headerKey"}
    for path in ("/events", "/analytics/adoption", "/admin/keys", "/admin/alerts", "/admin/guards"):
        for operation in document["paths"][path].values():
            assert operation["security"][0] == {} and {"401", "403"} <= set(operation["responses"])
    assert "security" not in document["paths"]["/health"]["get"]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(worker: Worker) -> None:
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{worker.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261128",
            "--generation-deterministic",
            "--report-dir",
            str(worker.data_dir / "schemathesis"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=worker.data_dir,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "passed" in result.stdout
