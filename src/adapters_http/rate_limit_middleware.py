"""Apply the per-client-IP rate limit to every route, and a helper for the other scopes.

Health, readiness and metrics are limited too, as the contract says "every route"; a probe or
a scraper polls far below any sane limit, and an operator whose probes all come through one
address can exempt routes with ``HttpSettings.rate_limit_exempt_routes``. CORS preflights are
answered before this layer and are not counted.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from adapters_http.client_ip import client_ip
from adapters_http.errors import RateLimited
from adapters_http.metrics import METRICS
from adapters_http.rate_limit import SCOPE_IP
from adapters_http.routing import route_template
from adapters_http.services import SERVICES


async def enforce_rate_limit(request: web.Request, scope: str, key: str) -> None:
    """Count a hit of *key* in *scope*; raise ``429`` with ``Retry-After`` when over the rate.

    Routes call it for the ``tenant`` scope (key: tenant id) and the ``webhook`` scope (key:
    channel), after the IP limit of the middleware.
    """
    decision = await request.app[SERVICES].rate_limiter.hit(scope, key)
    if not decision.allowed:
        request.app[METRICS].rate_limited.labels(scope=scope).inc()
        raise RateLimited(
            f"Too many requests; retry in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a client IP that is over its rate with ``429 rate_limited``."""
    settings = request.app[SERVICES].settings
    if route_template(request) in settings.rate_limit_exempt_routes:
        return await handler(request)
    ip = client_ip(request, trust_proxy_headers=settings.trust_proxy_headers)
    await enforce_rate_limit(request, SCOPE_IP, ip)
    return await handler(request)
