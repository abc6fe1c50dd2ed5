"""Passing a request on to the stream-processing worker, over its unix socket, and its answer back.

Ingest processes (web/front.py) answer POST /events themselves and everything else through this: analytics,
live windows (whose `table_route` may forward again, to another worker), health, metrics, the OpenAPI document
and the dashboard.
Bodies stream both ways, so an export does not sit in the front's memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ota_stream import logs
from ota_stream.errors import NotReady
from ota_stream.web.body import KIB, require_plain_body
from ota_stream.web.errors import BodyAborted

# Headers that describe one connection, not the message (RFC 9110 §7.6.1), and the ones aiohttp sets itself.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host"}
)  # fmt: skip
WORKER_STARTING = "the worker behind this ingest process is not answering yet; retry"


class Forwarder:
    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.UnixConnector(path=str(self.socket), limit=256)
        # No timeout of our own: the worker bounds its queries, and an export may stream for minutes.
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False, timeout=None)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, request: web.Request) -> tuple[int, CIMultiDict[str], bytes]:
        """The worker's whole answer, for the few routes whose body the front changes (/health, /metrics)."""
        upstream = await self._open(request)
        async with upstream:
            return upstream.status, _passed(upstream.headers), await upstream.read()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        upstream = await self._open(request)
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            response.headers.extend(_passed(upstream.headers))
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * KIB):
                await response.write(chunk)
            await response.write_eof()
            return response

    async def _open(self, request: web.Request) -> aiohttp.ClientResponse:
        """Send the request on; a worker that is starting (or gone) is a 503 with Retry-After."""
        assert self._session is not None, "Forwarder.start() has not run"
        if request.body_exists:  # this server would pass an encoded body on inflated, under the same header
            require_plain_body(request)
        headers = _passed(request.headers)
        headers["X-Request-ID"] = logs.request_id.get() or headers.get("X-Request-ID") or ""
        try:
            return await self._session.request(
                request.method,
                f"http://worker{request.rel_url}",
                headers=headers,
                data=request.content if request.body_exists else None,
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError):
            raise NotReady(WORKER_STARTING) from None
        except aiohttp.ClientOSError:
            if request.body_exists and request.content.exception() is not None:
                raise BodyAborted() from None  # the client closed its connection while its body was passed on
            raise


def _passed(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The end-to-end headers, each as often as it came: the worker refuses a request with two keys, and merging
    them let the last one win."""
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)
