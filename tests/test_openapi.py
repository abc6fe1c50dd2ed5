"""The OpenAPI 3.1 document describes every declared route (web/routes.py) with the parameters its model validates,
the worker refuses what the document's limits refuse, and schemathesis finds no 500 and no answer that breaks it."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import requests
from aiohttp.test_utils import make_mocked_request
from multidict import MultiDict

from ota_stream.auth.keys import KeyScope
from ota_stream.models import ID_RULE
from ota_stream.web.auth import TABLE, required_scope
from ota_stream.web.declare import Route
from ota_stream.web.errors import ApiError
from ota_stream.web.params import names, parse
from ota_stream.web.routes import (
    ADOPTION,
    DEVICE_EVENTS,
    FAILURES,
    LIVE_WINDOWS,
    RELEASE_HEALTH,
    RELEASE_SEGMENTS,
    ROUTES,
    served,
)
from tests.support.processes import BIN, Worker


def _declared_parameters(route: Route) -> dict[tuple[str, str], bool]:
    """(name, where) -> required, as the route's model declares them."""
    if route.params is None:
        return {}
    in_path = {part.split("}")[0] for part in route.template.split("{")[1:]}
    found = {}
    for name, field in names(route.params).items():
        where = "path" if name in in_path else "query"
        found[(name, where)] = where == "path" or route.params.model_fields[field].is_required()
    return found


def _live_last(document: dict[str, Any]) -> int:
    """The most windows `last` may ask for: the worker's retention over its window, known only to it."""
    operation = document["paths"][LIVE_WINDOWS.template]["get"]
    return int(next(p for p in operation["parameters"] if p["name"] == "last")["schema"]["maximum"])


def test_document_holds_each_declared_route_with_its_parameters(worker: Worker) -> None:
    document = requests.get(f"{worker.url}/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0"
    declared = [route for route in served(_live_last(document)) if route.documented]
    operations = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    assert operations == {(route.template, route.method) for route in declared}
    for route in declared:
        operation = document["paths"][route.template][route.method.lower()]
        written = {(p["name"], p["in"]): p["required"] for p in operation.get("parameters", [])}
        assert written == _declared_parameters(route), route.path
        assert {str(status) for status in route.answers} <= set(operation["responses"]), route.path
        if route.scope is None:
            assert "security" not in operation, route.path
        else:  # optional here: the test worker runs without AUTH_REQUIRED
            assert operation["security"][0] == {} and {"401", "403", "429"} <= set(operation["responses"])
        assert ("requestBody" in operation) == (route.body is not None), route.path
    assert "OtaEvent" in document["components"]["schemas"]
    assert set(document["components"]["securitySchemes"]) == {"bearerKey", "headerKey"}


def _beyond(schema: dict[str, Any]) -> str | None:
    """A value the document's own limits refuse, or None when they refuse nothing a query can send."""
    if "enum" in schema:
        return "not-one-of-them"
    if "maximum" in schema:
        return str(schema["maximum"] + 1)
    if "pattern" in schema or "maxLength" in schema:
        return "x" * 1000
    return None


def _path_of(template: str) -> str:
    """A path for a template, each path parameter a valid value."""
    return re.sub(r"\{[a-z_]+\}", "probe", template)


def test_each_documented_limit_is_a_422_naming_the_parameter(worker: Worker) -> None:
    """What the document says a query parameter may not be, the worker refuses, naming it: the document and the
    validation come from one declaration. And a parameter the document does not list is refused too."""
    document = requests.get(f"{worker.url}/openapi.json", timeout=30).json()
    checked = 0
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None or "parameters" not in operation:
            continue
        url = f"{worker.url}{_path_of(path)}"
        valid = _valid(operation)
        for parameter in operation["parameters"]:
            value = _beyond(parameter["schema"])
            if parameter["in"] != "query" or value is None:
                continue
            answer = requests.get(url, params={**valid, parameter["name"]: value}, timeout=30)
            assert answer.status_code == 422, (path, parameter["name"], answer.text)
            assert answer.json()["error"]["details"][0]["field"] == parameter["name"], (path, answer.text)
            checked += 1
        unknown = requests.get(url, params={**valid, "nonsense": "1"}, timeout=30)
        assert unknown.status_code == 422, (path, unknown.text)
        assert unknown.json()["error"]["details"][0]["field"] == "nonsense", (path, unknown.text)
    assert checked >= 40  # every analytics route's window and extras, live's `last`, the admin listings


def _valid(operation: dict[str, Any]) -> dict[str, str]:
    """The required query parameters, each with a value the document allows."""
    query = {}
    for parameter in operation["parameters"]:
        if parameter["in"] == "query" and parameter["required"]:
            schema = parameter["schema"]
            query[parameter["name"]] = schema["enum"][0] if "enum" in schema else "probe"
    return query


def test_the_guard_asks_each_route_for_the_key_its_declaration_names() -> None:
    for route in ROUTES:
        request = make_mocked_request(route.method, _path_of(route.template))
        assert TABLE.find(route.method, request.path) is route, route.path
        assert required_scope(request) is route.scope, route.path
    assert required_scope(make_mocked_request("GET", "/analytics/adoption")) is KeyScope.READ
    assert TABLE.find("GET", "/router/") is None and TABLE.find("GET", "/analytics/adoption/") is None


REFUSALS = [  # (route, query, path, the field named, its message): the messages of the parsers before declarations
    (ADOPTION, {}, {}, "tenant_id", "is required"),
    (ADOPTION, {"tenant_id": "a/b"}, {}, "tenant_id", f"must be {ID_RULE}"),
    (ADOPTION, {"tenant_id": "t", "days": "²"}, {}, "days", "must be a whole number from 1 to 365"),
    (
        ADOPTION,
        {"tenant_id": "t", "days": "1", "to": "2026-01-01T00:00:00Z"},
        {},
        "days",
        "give either days or from/to, not both",
    ),
    (ADOPTION, {"tenant_id": "t", "to": "2026-01-01T00:00:00Z"}, {}, "from", "is required when to is given"),
    (
        ADOPTION,
        {"tenant_id": "t", "from": "1969-01-01T00:00:00Z"},
        {},
        "from",
        "must lie between 1970-01-02 and 2106-01-01",
    ),
    (ADOPTION, {"tenant_id": "t", "target_version": ""}, {}, "target_version", "must be 1-128 characters"),
    (ADOPTION, {"tenant_id": "t", "segment": "x"}, {}, "segment", "unknown parameter"),
    (
        FAILURES,
        {"tenant_id": "t", "group_by": "x"},
        {},
        "group_by",
        "must be one of device_model, device_os, error_code, failure_stage, target_version",
    ),
    (
        RELEASE_HEALTH,
        {"tenant_id": "t", "confidence": "yes"},
        {"version": "1"},
        "confidence",
        "must be true or false",
    ),
    (
        RELEASE_HEALTH,
        {"tenant_id": "t", "max_failure_rate": "nan"},
        {"version": "1"},
        "max_failure_rate",
        "must be a number from 0 to 100",
    ),
    (
        RELEASE_SEGMENTS,
        {"tenant_id": "t"},
        {"version": "1"},
        "by",
        "is required: one of channel, connection_type, device_manufacturer, device_model, device_os, device_os_version",
    ),
    (
        DEVICE_EVENTS,
        {"tenant_id": "t", "limit": "0"},
        {"device_id": "d"},
        "limit",
        "must be a whole number from 1 to 1000",
    ),
]


@pytest.mark.parametrize(("route", "query", "path", "field", "message"), REFUSALS)
def test_a_refusal_names_the_parameter_with_the_message_of_its_rule(
    route: Route, query: dict[str, str], path: dict[str, str], field: str, message: str
) -> None:
    assert route.params is not None
    with pytest.raises(ApiError) as refused:
        parse(route.params, MultiDict(query), path)
    assert refused.value.status == 422
    assert [d.as_dict() for d in refused.value.details] == [{"field": field, "message": message}]


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
