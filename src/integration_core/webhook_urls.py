"""Where platforms deliver webhooks: the one table of paths and URLs.

Routes (``adapters_http.webhook_paths``), setup (the ``webhook_url`` an integration is given)
and Mercado Pago's ``notification_url`` all read it, so a path is spelled exactly once.
"""

from __future__ import annotations

from typing import Final

import attrs

from integration_core.channels import MESSAGING_CHANNELS, Channel

__all__ = [
    "HANDSHAKE_CHANNELS",
    "INTEGRATION_ID",
    "MERCADOPAGO_NOTIFICATIONS",
    "MESSAGING_CHANNELS",
    "WEBHOOK_ROOT",
    "WebhookUrls",
    "integration_path",
    "shared_path",
]

WEBHOOK_ROOT: Final = "/api/v1/integrations/webhooks"
"""Under it, each messaging channel's shared route and per-integration routes."""

INTEGRATION_ID: Final = "integration_id"
"""The path parameter of the per-integration routes: the integration whose own secret signs."""

MERCADOPAGO_NOTIFICATIONS: Final = "/api/v1/webhooks/mercadopago"
"""One endpoint for every seller (CONTRACT section 4)."""

HANDSHAKE_CHANNELS: Final = (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM)
"""Meta proves it owns a callback URL with a ``GET`` on the same paths it later POSTs to."""


def shared_path(channel: Channel) -> str:
    """Return the channel's shared route (platform-wide secrets only)."""
    return f"{WEBHOOK_ROOT}/{channel}"


def integration_path(channel: Channel, integration_id: str) -> str:
    """Return one integration's own route (its own secret, and the platform-wide ones)."""
    return f"{WEBHOOK_ROOT}/{channel}/{integration_id}"


def _without_trailing_slash(url: str) -> str:
    return url.rstrip("/")


@attrs.frozen
class WebhookUrls:
    """The public URLs under *base_url* (``BASE_URL``) that platforms are given."""

    base_url: str = attrs.field(converter=_without_trailing_slash)

    def for_integration(self, channel: Channel, integration_id: str, *, own_secret: bool) -> str:
        """Return the URL an integration's platform must deliver to.

        Its own route whenever it has a secret of its own (only that route checks it first);
        Mercado Pago's one endpoint for payments; else the channel's shared route.
        """
        if channel is Channel.MERCADOPAGO:
            return self.mercadopago()
        if own_secret:
            return self.base_url + integration_path(channel, integration_id)
        return self.base_url + shared_path(channel)

    def mercadopago(self) -> str:
        """Return Mercado Pago's ``notification_url``."""
        return self.base_url + MERCADOPAGO_NOTIFICATIONS
