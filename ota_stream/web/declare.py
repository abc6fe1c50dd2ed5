"""One declaration per route: its method and path, the model of its parameters, its request body, its answers,
the key scope it needs and its rate-limit class. From it come the validation (`bind`), the OpenAPI document
(web/openapi.py), the key check (web/auth.py, through `RouteTable`) and the route table the tests iterate.

Every route is a plain aiohttp route (`bind` makes the `RouteDef`), in the worker (Faust's web server, through
`ota_stream.kafka.faust_web.mount`) and in ingest processes alike; no route is a Faust `View`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from ota_stream.auth.keys import KeyScope
from ota_stream.web import params
from ota_stream.web.answers import ERROR

Schema = dict[str, Any]
P = TypeVar("P", bound=BaseModel)
_PARAMS = "params"  # where `bind` leaves the parsed parameters on the request


class Limit(Enum):
    """The rate-limit class of a route (auth/limits.py): ingest routes are charged per event by the route itself,
    the others one token per request by the guard."""

    EVENTS = "ingest"
    REQUESTS = "read"


@dataclass(frozen=True)
class Answer:
    """One answer of a route: a status, what it means, and its body's schema per content type (none: no body)."""

    description: str
    content: Mapping[str, Schema | type[BaseModel]] = field(default_factory=dict)
    headers: Mapping[str, Schema] = field(default_factory=dict)


def json(description: str, schema: Schema | type[BaseModel]) -> Answer:
    return Answer(description, {"application/json": schema})


def error(description: str) -> Answer:
    """An answer in the one error shape (web/errors.py)."""
    return json(description, ERROR)


@dataclass(frozen=True, eq=False)  # one object per route: compared and hashed by identity
class Route:
    method: str
    path: str  # aiohttp's pattern, regular expressions included: `/analytics/releases/{version:.+}/health`
    summary: str
    answers: Mapping[int, Answer]  # success and errors; 401, 403 and 429 follow from `scope`
    params: type[BaseModel] | None = None  # path and query parameters, validated by `bind`
    body: Mapping[str, Schema | type[BaseModel]] | None = None  # per content type; read by the handler itself
    scope: KeyScope | None = None  # the key scope it needs; None: open
    limit: Limit | None = None
    documented: bool = True  # in /openapi.json (the document itself and the dashboard's files are not)
    description: str | None = None

    @cached_property
    def template(self) -> str:
        """The path as OpenAPI writes it: `/analytics/releases/{version}/health`."""
        return _SEGMENT.sub(lambda m: "{" + m.group("name") + "}", self.path)

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts, end = [], 0
        for match in _SEGMENT.finditer(self.path):
            parts.append(re.escape(self.path[end : match.start()]))
            parts.append(f"(?:{match.group('re') or '[^{}/]+'})")
            end = match.end()
        parts.append(re.escape(self.path[end:]))
        return re.compile("".join(parts))

    def matches(self, path: str) -> bool:
        return self._pattern.fullmatch(path) is not None

    def with_params(self, model: type[BaseModel]) -> Route:
        """This route with parameters known only at start (live windows: `last` bounded by the retention)."""
        return replace(self, params=model)


# `{name}` or `{name:regex}`, the regex holding at most one level of braces, as aiohttp reads them
_SEGMENT = re.compile(r"\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?::(?P<re>(?:[^{}]|\{[^{}]*\})+))?\}")


def given(request: web.Request, model: type[P]) -> P:
    """The parameters `bind` parsed for this request."""
    parsed = request[_PARAMS]
    assert isinstance(parsed, model), (
        f"{request.path} was bound with {type(parsed).__name__}, not {model.__name__}"
    )
    return parsed


def bind(route: Route, handler: Handler) -> web.RouteDef:
    """The aiohttp route of a declaration: its parameters parsed (or a 422 naming the bad one) before `handler`
    runs, which reads them with `given`."""
    model = route.params
    if model is None:
        return web.route(route.method, route.path, handler)

    async def parsed(request: web.Request) -> web.StreamResponse:
        request[_PARAMS] = params.parse(model, request.query, request.match_info)
        return await handler(request)

    return web.route(route.method, route.path, parsed)


class RouteTable:
    """The declared routes by method and path: what the guard asks which key a request needs."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)

    def find(self, method: str, path: str) -> Route | None:
        """The route a request is for: by method, or by path alone for a method it does not take (a 405, which
        needs the same key as the route's other methods); None for a path not declared."""
        method = "GET" if method == "HEAD" else method
        at_path = [route for route in self.routes if route.matches(path)]
        return next((route for route in at_path if route.method == method), at_path[0] if at_path else None)
