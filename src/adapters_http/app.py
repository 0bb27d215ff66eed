"""Build the aiohttp application from the services the composition root made.

Middlewares run outermost first; the order is deliberate:

1. ``request_id``: decide the id before anything can log or fail (the header itself is written
   by an ``on_response_prepare`` hook, so every response gets it);
2. ``access_log`` and 3. ``metrics``: see every request, its final status (errors and 429s
   included, already enveloped) and its full duration;
4. ``cors``: answers preflights without touching the rate limit or the handler, and adds CORS
   headers to error responses too, so a browser page can read them;
5. ``error_envelope``: everything raised below becomes the JSON envelope;
6. ``webhook_deliveries``: counts webhook deliveries and logs each refused one, so it must see
   the raw exceptions of the two layers below as well as the handler's;
7. ``rate_limit``: the cheapest refusal comes before any body is read;
8. ``body_limit``: a declared over-sized body is refused before a handler reads it.
"""

from __future__ import annotations

import psutil
from aiohttp import web

from adapters_http.access_log import access_log_middleware
from adapters_http.body_limit import body_limit_middleware
from adapters_http.cors import cors_middleware
from adapters_http.error_envelope import error_envelope_middleware
from adapters_http.metrics import METRICS, HttpMetrics, metrics_middleware
from adapters_http.rate_limit_middleware import rate_limit_middleware
from adapters_http.request_id import request_id_middleware, stamp_request_id
from adapters_http.routes import add_ops_routes, add_routes
from adapters_http.runtime import PROCESS
from adapters_http.services import SERVICES, HttpServices
from adapters_http.webhook_deliveries import webhook_deliveries_middleware

__all__ = ["SERVICES", "create_app", "create_ops_app"]


def create_app(services: HttpServices) -> web.Application:
    """Return the HTTP application serving *services*.

    The metrics are registered on ``services.registry``, so build one application per registry.
    Resources in *services* (the rate limiter's Redis pool, stores) belong to the composition
    root, which closes them; the application only borrows them.
    """
    app = web.Application(
        client_max_size=services.settings.max_body_bytes,
        middlewares=[
            request_id_middleware,
            access_log_middleware,
            metrics_middleware,
            cors_middleware,
            error_envelope_middleware,
            webhook_deliveries_middleware,
            rate_limit_middleware,
            body_limit_middleware,
        ],
    )
    _serve(app, services)
    add_routes(app)
    return app


def create_ops_app(services: HttpServices) -> web.Application:
    """Return an application serving only the operational routes of *services* (a worker's).

    It answers health, readiness and metrics and nothing else, so it needs neither CORS, nor
    rate limits, nor body limits (its routes read no body).
    """
    app = web.Application(
        middlewares=[
            request_id_middleware,
            access_log_middleware,
            metrics_middleware,
            error_envelope_middleware,
        ],
    )
    _serve(app, services)
    add_ops_routes(app)
    return app


def _serve(app: web.Application, services: HttpServices) -> None:
    app[SERVICES] = services
    app[METRICS] = HttpMetrics(services.registry)
    app[PROCESS] = psutil.Process()
    app.on_response_prepare.append(stamp_request_id)
