"""Webhook endpoints of the messaging channels: Meta's handshake and every delivery ``POST``.

No bearer token here: each platform proves itself with its own signature, which the intake
checks over the raw body bytes before anything is parsed. A delivery is answered ``200`` only
once every event in it is durably stored; everything that can refuse one (signature, JSON,
size, rate, storage) raises, and the error table turns it into the status the platform needs
(``401``, ``400``, ``413``, ``429``, ``503`` with ``Retry-After``). Counting and logging refused
deliveries is :mod:`adapters_http.webhook_deliveries`' job, so the handlers stay straight-line.
"""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import hdrs, web

from adapters_http.body_limit import read_body
from adapters_http.errors import VerificationFailed
from adapters_http.metrics import METRICS
from adapters_http.rate_limit import SCOPE_WEBHOOK
from adapters_http.rate_limit_middleware import (
    count_unverified,
    enforce_rate_limit,
    refuse_exhausted_ip,
)
from adapters_http.request_id import request_id
from adapters_http.routing import add_route, route_template
from adapters_http.services import SERVICES
from adapters_http.webhook_deliveries import WEBHOOK_LOGGER
from adapters_http.webhook_paths import DELIVERY_ROUTES, HANDSHAKE_ROUTES, INTEGRATION_ID
from integration_core.errors import InvalidSignature
from integration_core.use_cases import subscription
from integration_core.webhooks import WebhookRequest

# The challenge is the caller's text echoed back: never let a browser sniff it into HTML.
_CHALLENGE_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


async def verify_subscription(request: web.Request) -> web.Response:
    """Answer Meta's setup ``GET`` with the bare ``hub.challenge``, or ``403``.

    Only the verify token is checked (the channel's ``*_VERIFY_TOKEN``, or an integration's
    own): a handshake carries no body and no signature header, and running the delivery
    signature check on it is what makes registration fail forever.
    """
    services = request.app[SERVICES]
    channel = HANDSHAKE_ROUTES[route_template(request)]
    try:
        challenge = await subscription.verify_subscription(
            channel,
            request.query,
            verify_tokens=services.verify_tokens.get(channel, ()),
            integrations=services.integrations,
            integration_id=request.match_info.get(INTEGRATION_ID),
        )
    except InvalidSignature as exc:
        # The reason is a fixed text of the handshake check: it never quotes a token.
        structlog.get_logger(WEBHOOK_LOGGER).warning(
            "webhook_verification_failed",
            channel=str(channel),
            reason=exc.message,
            request_id=request_id(request),
        )
        raise VerificationFailed("The webhook subscription could not be verified.") from None
    return web.Response(text=challenge, content_type="text/plain", headers=_CHALLENGE_HEADERS)


async def receive_delivery(request: web.Request) -> web.Response:
    """Verify and spool one webhook delivery; answer ``200`` once it is durable.

    An address whose unverified requests used up its budget is refused before the body is read;
    a request that fails to verify counts against its address; a verified one counts against
    the integration that vouched for it (the channel, for a platform-wide secret), never the
    address, since a platform delivers every tenant's traffic from a few. Splitting the
    delivery into events happens after the answer (:mod:`integration_core.use_cases.splitting`),
    so the body says only that it was received: ``{"received": true, "delivery_id"}``.
    """
    services = request.app[SERVICES]
    channel = DELIVERY_ROUTES[route_template(request)]
    intake = services.receive_webhook
    await refuse_exhausted_ip(request)
    body = await read_body(request)
    request.app[METRICS].webhooks.payload_bytes_by[channel].observe(len(body))
    delivery = WebhookRequest(body=body, headers=request.headers, query=request.query)

    async def admit(vouched_by: str | None) -> None:
        await enforce_rate_limit(request, SCOPE_WEBHOOK, vouched_by or str(channel))

    try:
        accepted = await intake(
            channel, delivery, integration_id=request.match_info.get(INTEGRATION_ID), admit=admit
        )
    except InvalidSignature:
        await count_unverified(request)
        raise
    # Built by hand: the id is ours (``in_`` and base32), so nothing needs escaping.
    return web.Response(
        body=b'{"received":true,"delivery_id":"' + accepted.delivery_id.encode() + b'"}',
        content_type="application/json",
    )


def add_webhook_routes(app: web.Application) -> None:
    """Register the handshake and delivery routes of every messaging channel."""
    for path in HANDSHAKE_ROUTES:
        add_route(app, hdrs.METH_GET, path, verify_subscription)
    for path in DELIVERY_ROUTES:
        add_route(app, hdrs.METH_POST, path, receive_delivery)
