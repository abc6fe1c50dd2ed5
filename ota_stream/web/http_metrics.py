"""Counts every answer of the worker's web server by status class, for the 5xx-rate alert of
deploy/prometheus/alerts.yml. Outermost middleware, so that it sees the status the client gets, error shape and
all (web/errors.py turns exceptions into answers inside it)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from ota_stream import metrics


@web.middleware
async def count_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _count(exc.status)
        raise
    except Exception:
        _count(500)  # aiohttp answers 500 to what escapes every middleware
        raise
    _count(response.status)
    return response


def _count(status: int) -> None:
    if 200 <= status < 600:
        metrics.HTTP_RESPONSES.labels(f"{status // 100}xx").inc()
