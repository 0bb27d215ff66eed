"""Count every webhook delivery, and count and log each refused one, wherever it is refused.

A delivery can be refused before its handler runs (the per-IP rate limit, a declared body over
the size limit) or by the handler (the channel's rate limit, a chunked body over the limit, the
signature, the JSON, storage). This middleware sits just inside the error envelope, so it sees
each of those exceptions before it becomes a response: one counter increment and one log line
per refused delivery, with its reason, channel and request id. It never touches the body, a
signature header or a token, so none can reach the log, and its message is :func:`bounded` (a
refusal's message may quote what the sender chose).
"""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from adapters_http.access_log import bounded
from adapters_http.errors import (
    PayloadTooLarge,
    RateLimited,
    problem_for,
)
from adapters_http.metrics import METRICS
from adapters_http.request_id import request_id
from adapters_http.routing import route_template
from adapters_http.webhook_metrics import Reason
from adapters_http.webhook_paths import DELIVERY_ROUTES
from integration_core.errors import (
    CredentialsUnavailable,
    InvalidSignature,
    MalformedPayload,
    StorageUnavailable,
)

WEBHOOK_LOGGER: Final = "integration_service.webhooks"

# Checked in order; anything else (a bug) is not a rejection but a 500 the envelope logs.
_REASONS: Final[tuple[tuple[type[Exception], Reason], ...]] = (
    (InvalidSignature, "invalid_signature"),
    (MalformedPayload, "malformed"),
    (PayloadTooLarge, "too_large"),
    (web.HTTPRequestEntityTooLarge, "too_large"),
    (RateLimited, "rate_limited"),
    # The platform retries both: the event could not be stored (or verified) right now.
    (StorageUnavailable, "storage_unavailable"),
    (CredentialsUnavailable, "storage_unavailable"),
)


def rejection_reason(exc: Exception) -> Reason | None:
    """Return the metric reason a delivery refused with *exc* is counted under, if any."""
    return next((reason for cls, reason in _REASONS if isinstance(exc, cls)), None)


@web.middleware
async def webhook_deliveries_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Count a webhook ``POST`` as received; count and log it again if it is refused."""
    channel = (
        DELIVERY_ROUTES.get(route_template(request)) if request.method == hdrs.METH_POST else None
    )
    if channel is None:
        return await handler(request)
    metrics = request.app[METRICS].webhooks
    metrics.received_by[channel].inc()
    try:
        return await handler(request)
    except Exception as exc:
        reason = rejection_reason(exc)
        if reason is not None:
            metrics.rejected.labels(channel=channel, reason=reason).inc()
            problem = problem_for(exc, request)
            structlog.get_logger(WEBHOOK_LOGGER).warning(
                "webhook_rejected",
                channel=str(channel),
                reason=reason,
                status=problem.status,
                message=bounded(problem.message),
                request_id=request_id(request),
            )
        raise
