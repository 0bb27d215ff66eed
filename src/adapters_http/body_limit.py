"""Refuse request bodies over the configured size, before or while they are read.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a
chunked body has no declared size, so :func:`read_body` counts while streaming and stops as soon
as the limit is passed. Handlers read bodies through :func:`read_body` (or
:func:`~adapters_http.json_body.read_json`) rather than ``request.read()``.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from adapters_http.errors import PayloadTooLarge
from adapters_http.services import SERVICES

BODY: Final = web.RequestKey("body", bytes)
BYTES_READ: Final = web.RequestKey("bytes_read", int)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the {limit}-byte limit.")


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request whose declared ``Content-Length`` is over the limit, unread."""
    limit = request.app[SERVICES].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    return await handler(request)


async def read_body(request: web.Request, *, limit: int | None = None) -> bytes:
    """Return the request body, refusing it with ``413`` once it passes *limit* bytes.

    *limit* defaults to the service's ``max_body_bytes``; a route may lower it (the middleware
    has already refused declared sizes over the service-wide limit). The body is kept on the
    request, so reading it twice returns the same bytes.
    """
    if BODY in request:
        return request[BODY]
    if limit is None:
        limit = request.app[SERVICES].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    if request.content_length is not None:
        # Declared and within the limit: read it whole (aiohttp stops at the declared length).
        body = await request.read()
        request[BYTES_READ] = len(body)
        request[BODY] = body
        return body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        request[BYTES_READ] = size
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request[BODY] = body
    return body
