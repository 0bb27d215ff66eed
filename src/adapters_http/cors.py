"""Answer CORS preflights and label responses for the configured browser origins.

Origins match exactly (scheme, host and port) or ``*`` allows every origin. Tokens travel in
``Authorization``, never in cookies, so credentials are not allowed and the request's origin is
echoed with ``Vary: Origin``. A disallowed origin gets no CORS headers at all: the browser then
refuses to hand the response to the page.
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from adapters_http.request_id import REQUEST_ID_HEADER
from adapters_http.services import SERVICES, HttpSettings

ALLOWED_METHODS: Final = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# The webhook-* headers are the Standard Webhooks signature our webchat widget sends from pages.
ALLOWED_HEADERS: Final = (
    f"Authorization, Content-Type, Idempotency-Key, {REQUEST_ID_HEADER}, "
    "webhook-id, webhook-timestamp, webhook-signature"
)
EXPOSED_HEADERS: Final = (
    f"{REQUEST_ID_HEADER}, Retry-After, WWW-Authenticate, Location, Idempotent-Replayed"
)


def origin_allowed(origin: str, settings: HttpSettings) -> bool:
    """Tell whether a browser page at *origin* may call this API."""
    return "*" in settings.allowed_origins or origin in settings.allowed_origins


def _is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in request.headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights here; add CORS headers to every other response of an allowed origin."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return await handler(request)
    settings = request.app[SERVICES].settings
    allowed = origin_allowed(origin, settings)
    if _is_preflight(request):
        response: web.StreamResponse = web.Response(status=204)
        if allowed:
            response.headers.update(
                {
                    hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOWED_METHODS,
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOWED_HEADERS,
                    hdrs.ACCESS_CONTROL_MAX_AGE: str(settings.cors_max_age_seconds),
                }
            )
    else:
        response = await handler(request)
        if allowed and not response.prepared:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS
    if not response.prepared:
        response.headers.add(hdrs.VARY, hdrs.ORIGIN)
    return response
