"""`GET /openapi.json`: the OpenAPI 3.1 document, written from the route declarations (web/routes.py).

Parameters come from each route's pydantic model (the one that validates them), bodies from their models or
schemas, the key each route needs from its scope; only summaries and descriptions are prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ota_stream import __version__
from ota_stream.models import OtaEvent
from ota_stream.web import routes
from ota_stream.web.answers import ERROR_SCHEMA, Schema
from ota_stream.web.declare import Answer, Route, bind, error
from ota_stream.web.errors import json_response
from ota_stream.web.params import field_schema, names

SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


@cache
def document(live_last: int | None, auth_required: bool) -> dict[str, Any]:
    """`live_last`: the most windows `/live/…/windows?last=` serves; None when live tables are off (no /live)."""
    event = OtaEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = event.pop("$defs", {})
    schemas["OtaEvent"] = event
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "ota-stream", "version": __version__},
        "paths": paths(routes.served(live_last), auth_required),
        "components": {"schemas": schemas, "securitySchemes": SCHEMES},
    }


def paths(declared: Iterable[Route], auth_required: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for route in declared:
        if route.documented:
            found.setdefault(route.template, {})[route.method.lower()] = operation(route, auth_required)
    return found


def operation(route: Route, auth_required: bool) -> dict[str, Any]:
    written: dict[str, Any] = {"summary": route.summary}
    if route.description:
        written["description"] = route.description
    if route.params is not None:
        written["parameters"] = parameters(route)
    if route.body is not None:
        written["requestBody"] = {"required": True, "content": _content(route.body)}
    responses = {str(status): _answer(answer) for status, answer in route.answers.items()}
    if route.scope is not None:
        options: list[dict[str, list[str]]] = [{name: []} for name in SCHEMES]
        written["security"] = options if auth_required else [{}, *options]
        denied = {
            "401": "No key, or an unknown, revoked or malformed one.",
            "403": f"The key lacks the {route.scope} scope, or does not reach this tenant, org or app.",
            "429": "Over the key's rate limit; retry after `Retry-After`.",
        }
        for status, description in denied.items():
            responses.setdefault(status, _answer(error(description)))
    written["responses"] = responses
    return written


def parameters(route: Route) -> list[dict[str, Any]]:
    """Each field of the route's model: in the path when the path names it, else in the query."""
    assert route.params is not None
    in_path = set(route.template.replace("}", "{").split("{")[1::2])
    found = []
    for name, field in names(route.params).items():
        where = "path" if name in in_path else "query"
        required = where == "path" or route.params.model_fields[field].is_required()
        found.append(
            {"name": name, "in": where, "required": required, "schema": field_schema(route.params, name)}
        )
    return found


def _content(content: Mapping[str, Schema | type[BaseModel]]) -> dict[str, Any]:
    return {kind: {"schema": _schema(schema)} if schema else {} for kind, schema in content.items()}


def _schema(schema: Schema | type[BaseModel]) -> Schema:
    if isinstance(schema, type):
        return _inlined(schema.model_json_schema())
    return schema


def _answer(answer: Answer) -> dict[str, Any]:
    written: dict[str, Any] = {"description": answer.description}
    if answer.content:
        written["content"] = _content(answer.content)
    if answer.headers:
        written["headers"] = {name: {"schema": schema} for name, schema in answer.headers.items()}
    return written


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` put in place, so the document needs no extra components."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return dict(resolve(schema))


def route(live_last: int | None, auth_required: bool) -> web.RouteDef:
    body = document(live_last, auth_required)

    async def answer(request: web.Request) -> web.Response:
        return json_response(body)

    return bind(routes.OPENAPI, answer)
