"""The HTTP listener of a ``--role worker`` process: health, readiness and metrics, nothing else.

A worker takes no webhooks and serves no management API, yet an orchestrator still probes it
and Prometheus still scrapes the forwarding metrics, which live in this process alone. So it
listens on ``PORT`` like any other process and answers ``GET /api/v1/health``,
``/api/v1/ready`` and ``/metrics`` with the HTTP adapter's own handlers and middlewares (same
JSON, same envelope, same request ids); every other path is a ``404``, so a load balancer that
sends platform traffic to a worker by mistake gets no ``200`` for an event it did not store.
"""

from __future__ import annotations

import psutil
from aiohttp import hdrs, web

from adapters_http import METRICS, SERVICES, HttpMetrics, HttpServices, add_route
from adapters_http.access_log import access_log_middleware
from adapters_http.error_envelope import error_envelope_middleware
from adapters_http.metrics import metrics_middleware
from adapters_http.request_id import request_id_middleware, stamp_request_id
from adapters_http.routes import health
from adapters_http.runtime import PROCESS


def create_ops_app(services: HttpServices) -> web.Application:
    """Return an application serving only the operational routes of *services*."""
    app = web.Application(
        middlewares=[
            request_id_middleware,
            access_log_middleware,
            metrics_middleware,
            error_envelope_middleware,
        ],
    )
    app[SERVICES] = services
    app[METRICS] = HttpMetrics(services.registry)
    app[PROCESS] = psutil.Process()
    app.on_response_prepare.append(stamp_request_id)
    add_route(app, hdrs.METH_GET, "/api/v1/health", health.health)
    add_route(app, hdrs.METH_GET, "/api/v1/ready", health.ready)
    add_route(app, hdrs.METH_GET, "/metrics", health.metrics)
    return app
