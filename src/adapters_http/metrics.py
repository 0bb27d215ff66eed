"""Prometheus metrics of the HTTP side, registered on the service's own registry.

The names are a contract with the alert rules: change them only together.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from adapters_http.rate_limit import SCOPE_IP, SCOPE_TENANT, SCOPE_WEBHOOK
from adapters_http.routing import route_template
from adapters_http.webhook_metrics import WebhookMetrics
from adapters_http.webhook_paths import WEBHOOK_CHANNELS
from integration_core.use_cases.health import HealthReport

# Anything else a client invents ("FOO") is counted as "other" to keep label sets bounded.
_KNOWN_METHODS: Final = frozenset(
    {
        hdrs.METH_GET,
        hdrs.METH_HEAD,
        hdrs.METH_POST,
        hdrs.METH_PUT,
        hdrs.METH_PATCH,
        hdrs.METH_DELETE,
        hdrs.METH_OPTIONS,
    }
)


def method_label(method: str) -> str:
    """Return *method* if it is a standard one, else ``other``."""
    return method if method in _KNOWN_METHODS else "other"


_MAX_CHILDREN: Final = 4096


class HttpMetrics:
    """Own every HTTP-side metric; one instance per registry (registering twice fails).

    The webhook intake's own metrics are in :attr:`webhooks`.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.webhooks = WebhookMetrics(registry, channels=WEBHOOK_CHANNELS)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "integration_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "integration_http_request_duration_seconds",
            "Time to produce an HTTP response, by method and route template.",
            ("method", "route"),
            registry=registry,
        )
        self.in_flight = Gauge(
            "integration_http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=registry,
        )
        self.rate_limited = Counter(
            "integration_rate_limited_total",
            "Requests refused by a rate limit, by scope (ip, tenant, webhook).",
            ("scope",),
            registry=registry,
        )
        self.dependency_up = Gauge(
            "integration_dependency_up",
            "1 if the dependency answered its last health check, else 0.",
            ("dependency",),
            registry=registry,
        )
        self.dependency_latency = Gauge(
            "integration_dependency_latency_seconds",
            "How long the dependency's last health check took.",
            ("dependency",),
            registry=registry,
        )
        # Start every scope at 0 so rate() alerts work before the first refusal.
        for scope in (SCOPE_IP, SCOPE_TENANT, SCOPE_WEBHOOK):
            self.rate_limited.labels(scope=scope)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one request; the labelled series are looked up once each, not per
        request (``labels()`` takes a lock and builds a key every call)."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = (
                self.requests.labels(method=method, route=route, status=str(status)),
                self.duration.labels(method=method, route=route),
            )
            if len(self._children) < _MAX_CHILDREN:  # routes are templates: few keys
                self._children[key] = found
        found[0].inc()
        found[1].observe(seconds)

    def observe_health(self, report: HealthReport) -> None:
        """Record each dependency's state from a health report."""
        for check in report.checks:
            self.dependency_up.labels(dependency=check.name).set(1 if check.ok else 0)
            self.dependency_latency.labels(dependency=check.name).set(check.latency_ms / 1000)


METRICS: Final = web.AppKey("metrics", HttpMetrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request, including errors and rejected ones."""
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500  # only if an exception escaped the error envelope
    metrics.in_flight.inc()
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        status = 499  # nginx's "client closed request"
        raise
    else:
        status = response.status
        return response
    finally:
        metrics.in_flight.dec()
        method = method_label(request.method)
        route = route_template(request)
        metrics.observe_request(method, route, status, time.perf_counter() - started)
