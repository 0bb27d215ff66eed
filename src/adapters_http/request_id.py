"""Give every request an id and put it on every response.

The middleware decides the id early, so logs and error envelopes of inner layers can quote it;
the ``on_response_prepare`` hook writes the header just before headers go out, so even a
response a handler prepared itself (a stream) or one built after an error carries it.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from integration_core.ids import random_bytes

REQUEST_ID_HEADER: Final = "X-Request-ID"
REQUEST_ID: Final = web.RequestKey("request_id", str)

# A caller's id is echoed only if it cannot smuggle anything into a header or a log line.
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """Return a fresh, unguessable request id: 32 hex characters (128 random bits)."""
    return random_bytes(16).hex()


def accept_request_id(candidate: str | None) -> str:
    """Return *candidate* if sane (1 to 128 of ``[A-Za-z0-9._:-]``), else a new id."""
    if candidate is not None and _SANE_ID.fullmatch(candidate):
        return candidate
    return new_request_id()


def request_id(request: web.Request) -> str:
    """Return the id of *request*, assigning one if no middleware did yet."""
    if REQUEST_ID in request:
        return request[REQUEST_ID]
    found = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = found
    return found


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Decide the request's id before any other layer runs."""
    request_id(request)
    return await handler(request)


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Write ``X-Request-ID`` on *response* as its headers are about to be sent."""
    response.headers[REQUEST_ID_HEADER] = request_id(request)
