"""Apply the per-client-IP rate limit to every route, and a helper for the other scopes.

Health, readiness and metrics are limited too, as the contract says "every route"; a probe or
a scraper polls far below any sane limit, and an operator whose probes all come through one
address can exempt routes with ``HttpSettings.rate_limit_exempt_routes``. CORS preflights are
answered before this layer and are not counted.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from adapters_http.client_ip import client_ip
from adapters_http.errors import RateLimited
from adapters_http.metrics import METRICS
from adapters_http.rate_limit import SCOPE_IP, RateDecision
from adapters_http.routing import route_template
from adapters_http.services import SERVICES
from adapters_http.webhook_paths import DELIVERY_ROUTES


async def enforce_rate_limit(request: web.Request, scope: str, key: str) -> None:
    """Count a hit of *key* in *scope*; raise ``429`` with ``Retry-After`` when over the rate.

    Routes call it for the ``tenant`` scope (key: tenant id) and the ``webhook`` scope (key:
    channel), after the IP limit of the middleware.
    """
    _refuse_over_rate(request, scope, await request.app[SERVICES].rate_limiter.hit(scope, key))


async def refuse_exhausted_ip(request: web.Request) -> None:
    """Raise ``429`` if the client IP used up its budget, without counting this request.

    Webhook deliveries are counted against the IP only when they fail to verify (CONTRACT
    section 8): a platform delivers every tenant's traffic from a few addresses.
    """
    services = request.app[SERVICES]
    ip = client_ip(request, trust_proxy_headers=services.settings.trust_proxy_headers)
    _refuse_over_rate(request, SCOPE_IP, await services.rate_limiter.exhausted(SCOPE_IP, ip))


def _refuse_over_rate(request: web.Request, scope: str, decision: RateDecision) -> None:
    """Count and raise ``429`` with ``Retry-After`` unless *decision* allows the request."""
    if not decision.allowed:
        request.app[METRICS].rate_limited.labels(scope=scope).inc()
        raise RateLimited(
            f"Too many requests; retry in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


async def count_unverified(request: web.Request) -> None:
    """Count a webhook request that failed to verify against its IP (``429`` when over)."""
    settings = request.app[SERVICES].settings
    await enforce_rate_limit(
        request, SCOPE_IP, client_ip(request, trust_proxy_headers=settings.trust_proxy_headers)
    )


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a client IP that is over its rate with ``429 rate_limited``.

    Webhook deliveries are left to their handler, which limits verified ones per integration
    and counts only unverified ones against the IP.
    """
    settings = request.app[SERVICES].settings
    template = route_template(request)
    if template in settings.rate_limit_exempt_routes or (
        request.method == hdrs.METH_POST and template in DELIVERY_ROUTES
    ):
        return await handler(request)
    ip = client_ip(request, trust_proxy_headers=settings.trust_proxy_headers)
    await enforce_rate_limit(request, SCOPE_IP, ip)
    return await handler(request)
