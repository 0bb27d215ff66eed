"""Webhook signature schemes, one module per scheme: pure functions to sign and verify.

Each module exposes ``sign(...)`` (to build test deliveries, or our own outgoing signatures) and
``verify(...)`` over raw header values, plus a :class:`~integration_core.ports.WebhookVerifier`
that reads them from a :class:`~integration_core.webhooks.WebhookRequest`. Verification works on
the body bytes as received, compares in constant time, accepts any of several secrets (rotation)
and rejects everything when given none. Whatever a request holds, the only exception raised is
:class:`~integration_core.errors.InvalidSignature`, whose message names the reason but never a
secret or an expected digest. Nothing here reads the clock: time arrives as a ``now`` argument or
an injected :class:`~integration_core.ports.Clock`.
"""

from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier
from integration_core.signatures.meta import MetaWebhookVerifier
from integration_core.signatures.standard_webhooks import StandardWebhooksVerifier
from integration_core.signatures.tawkto import TawkToWebhookVerifier
from integration_core.signatures.telegram import TelegramWebhookVerifier

__all__ = [
    "MercadoPagoWebhookVerifier",
    "MetaWebhookVerifier",
    "StandardWebhooksVerifier",
    "TawkToWebhookVerifier",
    "TelegramWebhookVerifier",
]
