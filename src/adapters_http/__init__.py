"""The HTTP side of integration-service: an aiohttp application over the domain core.

The composition root builds :class:`HttpServices` and calls :func:`create_app`; routes get their
dependencies from ``request.app[SERVICES]``, never from module globals.
"""

from adapters_http.app import create_app
from adapters_http.auth import SCOPES, JwtAuthenticator, Principal, issue_token
from adapters_http.body_limit import read_body
from adapters_http.errors import HttpError
from adapters_http.guard import require
from adapters_http.json_body import read_json
from adapters_http.metrics import METRICS, HttpMetrics
from adapters_http.rate_limit import Rate, RateDecision, RateLimiter
from adapters_http.rate_limit_middleware import enforce_rate_limit
from adapters_http.routing import add_route
from adapters_http.services import SERVICES, HttpServices, HttpSettings

__all__ = [
    "METRICS",
    "SCOPES",
    "SERVICES",
    "HttpError",
    "HttpMetrics",
    "HttpServices",
    "HttpSettings",
    "JwtAuthenticator",
    "Principal",
    "Rate",
    "RateDecision",
    "RateLimiter",
    "add_route",
    "create_app",
    "enforce_rate_limit",
    "issue_token",
    "read_body",
    "read_json",
    "require",
]
