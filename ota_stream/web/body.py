"""Reading request bodies within a size limit and a time limit, and decoding JSON into the API's errors."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ota_stream.models import FieldError
from ota_stream.web.errors import ApiError, BodyAborted

KIB = 1024
MIB = 1024 * KIB
BODY_TIMEOUT = "body_timeout_seconds"  # set on each request by `body_deadline`


def require_content_type(request: web.Request, allowed: tuple[str, ...]) -> str:
    content_type = request.content_type.lower()
    if content_type not in allowed:
        raise ApiError(415, f"Content-Type must be {' or '.join(allowed)}, got {content_type or 'none'}")
    return content_type


def require_plain_body(request: web.Request) -> None:
    """415 for a body in any Content-Encoding but identity, before a byte of it is read.

    No client of ours compresses what it sends, and inflating would turn a few KiB on the wire into megabytes here
    (the limits count the bytes received); aiohttp would also inflate it under a Content-Length that counts the
    compressed bytes. So encoded bodies are refused, with `Accept-Encoding: identity` as RFC 9110 asks.
    """
    codings = {
        coding.strip().lower()
        for value in request.headers.getall("Content-Encoding", [])
        for coding in value.split(",")
    }
    if codings - {"identity", ""}:
        named = ", ".join(sorted(codings - {"identity", ""}))
        raise ApiError(
            415,
            f"Content-Encoding {named} is not accepted: send the body uncompressed",
            [FieldError("Content-Encoding", "must be identity or left out")],
            headers={"Accept-Encoding": "identity"},
        )


def body_deadline(seconds: float) -> Middleware:
    """The middleware that gives each request of this server HTTP_BODY_TIMEOUT_SECONDS to send its body."""

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[BODY_TIMEOUT] = seconds
        return await handler(request)

    return deadline


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it passes `limit` bytes (declared or streamed); 415 when it is encoded;
    408 when it has not arrived within the body deadline; BodyAborted when the client closed the connection."""
    require_plain_body(request)
    seconds: float | None = request.get(BODY_TIMEOUT)
    try:
        if request.content.is_eof():  # the body came whole with the head, as a single event does: no wait
            return await _read(request, limit)
        async with asyncio.timeout(seconds):
            return await _read(request, limit)
    except TimeoutError:
        raise ApiError(
            408, f"the request body did not arrive within {seconds:g} s", headers={"Connection": "close"}
        ) from None
    except ConnectionResetError:
        raise BodyAborted() from None


async def _read(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None:
        if request.content_length > limit:
            raise _too_large(limit)
        if not request.content_length:
            return b""
        try:
            return await request.content.readexactly(request.content_length)  # the usual case: one call
        except asyncio.IncompleteReadError:
            raise ApiError(400, "the request body is shorter than its Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * KIB):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over {limit // KIB} KiB")


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise ApiError(400, "the request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
