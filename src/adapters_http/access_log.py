"""Emit one structured access-log event per request.

Only what an operator needs to follow a request: never headers wholesale, never a body, and a
query string only with credential-looking values redacted (Meta's ``hub.verify_token``,
``access_token`` and the like travel in queries). The path and each query name and value are cut
to :data:`LOG_FIELD_LIMIT` characters (see :func:`bounded`): a client chooses them, and a log
line must stay cheap to write, redact and store. Rendering and level come from the logging
configuration of the composition root.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final
from urllib.parse import urlencode

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from adapters_http.body_limit import BYTES_READ
from adapters_http.client_ip import client_ip
from adapters_http.request_id import request_id
from adapters_http.routing import route_template
from adapters_http.services import SERVICES

ACCESS_LOGGER: Final = "integration_service.access"
_ACCESS: Final = logging.getLogger(ACCESS_LOGGER)  # stdlib decides the level: checked first
REDACTED: Final = "[REDACTED]"

# A query parameter is redacted if its lower-cased name contains any of these.
_SECRET_MARKERS: Final = ("token", "secret", "password", "signature", "key", "code", "auth")

# Long user agents are a cheap way to bloat logs.
_MAX_USER_AGENT: Final = 256

LOG_FIELD_LIMIT: Final = 512
"""How many characters of a client-chosen path, query name or query value a log line keeps."""
TRUNCATED: Final = "[TRUNCATED]"
# What a token is made of (Meta, Telegram after the colon, JWT segments, whsec_...): a cut
# never leaves the first part of one behind, where the redaction would no longer recognise it.
_TOKEN_CHARACTERS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)


def bounded(text: str, limit: int = LOG_FIELD_LIMIT) -> str:
    """Return *text*, or its first *limit* characters and :data:`TRUNCATED` if it is longer.

    The cut also drops the token characters it would split, so a secret that straddles the
    limit is left out whole instead of half logged.
    """
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and text[end - 1] in _TOKEN_CHARACTERS:
        end -= 1
    return text[:end] + TRUNCATED


def redact_query(query: MultiMapping[str]) -> str:
    """Return *query* as a string with the values of credential-like parameters redacted.

    Names and values are :func:`bounded`.
    """
    pairs = [
        (
            bounded(name),
            REDACTED if any(m in name.lower() for m in _SECRET_MARKERS) else bounded(value),
        )
        for name, value in query.items()
    ]
    return urlencode(pairs, safe="[]")


def _bytes_in(request: web.Request) -> int:
    if request.content_length is not None:
        return request.content_length
    # aiohttp types Request.get() loosely; the key guarantees an int.
    bytes_read: int = request.get(BYTES_READ, 0)
    return bytes_read


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time the request and log it once it has an answer (or was cancelled)."""
    started = time.perf_counter()
    status = 500  # only if an exception escaped the error envelope
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    else:
        status = response.status
        return response
    finally:
        if _ACCESS.isEnabledFor(logging.INFO):
            _log(request, response, status, started)


def _log(
    request: web.Request, response: web.StreamResponse | None, status: int, started: float
) -> None:
    """Write the access line (built only when it is written: nothing per request at WARNING)."""
    settings = request.app[SERVICES].settings
    bytes_out = None
    if response is not None:
        bytes_out = response.content_length
        if bytes_out is None and response.prepared:
            bytes_out = response.body_length
    event: dict[str, object] = {
        "method": request.method,
        "route": route_template(request),
        "path": bounded(request.path),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "request_id": request_id(request),
        "client_ip": client_ip(request, trust_proxy_headers=settings.trust_proxy_headers),
        "bytes_in": _bytes_in(request),
        "bytes_out": bytes_out,
        "user_agent": request.headers.get(hdrs.USER_AGENT, "")[:_MAX_USER_AGENT],
    }
    if request.query:
        event["query"] = redact_query(request.query)
    structlog.get_logger(ACCESS_LOGGER).info("http_request", **event)
