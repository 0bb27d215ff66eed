"""Every route of the HTTP adapter, registered in one place."""

from __future__ import annotations

from aiohttp import hdrs, web

from adapters_http.routes import health
from adapters_http.routes.events import add_event_routes
from adapters_http.routes.integrations import add_integration_routes
from adapters_http.routes.payments import add_payment_routes
from adapters_http.routes.tawkto import add_tawkto_routes
from adapters_http.routes.webhooks import add_webhook_routes
from adapters_http.routing import add_route


def add_ops_routes(app: web.Application) -> None:
    """Register health, readiness and metrics on *app*: all a worker's listener serves."""
    add_route(app, hdrs.METH_GET, "/api/v1/health", health.health)
    add_route(app, hdrs.METH_GET, "/api/v1/ready", health.ready)
    add_route(app, hdrs.METH_GET, "/metrics", health.metrics)


def add_routes(app: web.Application) -> None:
    """Register every route on *app*, each with and without a trailing slash."""
    add_ops_routes(app)
    add_webhook_routes(app)
    add_tawkto_routes(app)
    add_integration_routes(app)
    add_event_routes(app)
    add_payment_routes(app)
