"""Faust's web server, reached into: plain aiohttp routes added to the aiohttp application inside it.

Kept out of `ota_stream.web` so that importing the HTTP views (as the ingest processes do) loads no Faust.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import faust
from aiohttp import web
from faust.web.drivers.aiohttp import Web


def mount(app: faust.App, routes: Iterable[web.RouteDef]) -> None:
    """Add plain aiohttp routes to the aiohttp application inside Faust's web server."""
    cast(Web, app.web).web_app.router.add_routes(routes)
