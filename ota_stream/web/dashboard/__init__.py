"""`GET /dashboard`: the analysts' page, served by the worker from files inside the package.

The page and its assets hold no tenant data, so they are open (web/auth.py); the page itself asks for a read key
and calls the API with it. Everything it loads comes from here: the Content-Security-Policy allows this origin
only, so a browser refuses any script, style or request elsewhere (a CDN included).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from ota_stream.web.declare import bind
from ota_stream.web.errors import ApiError
from ota_stream.web.routes import DASHBOARD, DASHBOARD_FILE

STATIC = Path(str(resources.files(__package__) / "static"))
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated each time: a new wheel's page is seen at once
}
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".LICENSE": "text/plain",
    ".VERSION": "text/plain",
}


def assets(folder: Path = STATIC) -> dict[str, Path]:
    """Every file the page may load, by its path under static/: only these are served, nothing else on disk."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in TYPES
    }


def routes() -> list[web.RouteDef]:
    """The page at /dashboard, its files at /dashboard/static/<name>."""
    files = assets()

    async def page(request: web.Request) -> web.StreamResponse:
        return _file(files["index.html"])

    async def asset(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["name"])
        if path is None:
            raise ApiError(404, "no such file", code="not_found")
        return _file(path)

    return [bind(DASHBOARD, page), bind(DASHBOARD_FILE, asset)]


def _file(path: Path) -> web.StreamResponse:
    headers = {**HEADERS, "Content-Type": f"{TYPES[path.suffix]}; charset=utf-8"}
    return web.FileResponse(path, headers=headers)
