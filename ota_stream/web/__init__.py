"""HTTP views: ingest, analytics, live windows, health, metrics and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import faust
from aiohttp import web
from faust.web.drivers.aiohttp import Web


def mount(app: faust.App, routes: Iterable[web.RouteDef]) -> None:
    """Add plain aiohttp routes to the aiohttp application inside Faust's web server."""
    cast(Web, app.web).web_app.router.add_routes(routes)
