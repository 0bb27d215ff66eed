"""Where each messaging channel's webhooks arrive: one table for routes, metrics and logs.

The routes are registered from these tables and the delivery middleware recognises a webhook
by its route template, so a path and the channel it belongs to are written down exactly once.
Paths are spelled out per channel rather than as ``/webhooks/{channel}``: an unknown channel is
then an ordinary 404, and no pattern can shadow the management routes under
``/api/v1/integrations/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from integration_core.channels import Channel

WEBHOOK_ROOT: Final = "/api/v1/integrations/webhooks"

INTEGRATION_ID: Final = "integration_id"
"""The path parameter of the per-integration routes: the integration whose own secret signs."""

MESSAGING_CHANNELS: Final = (
    Channel.WHATSAPP,
    Channel.MESSENGER,
    Channel.INSTAGRAM,
    Channel.TAWKTO,
    Channel.TELEGRAM,
    Channel.WEBCHAT,
)
_META: Final = (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM)


def _routes(channels: tuple[Channel, ...]) -> Mapping[str, Channel]:
    """The shared route and the per-integration route of each of *channels*."""
    return MappingProxyType(
        {
            **{f"{WEBHOOK_ROOT}/{channel}": channel for channel in channels},
            **{f"{WEBHOOK_ROOT}/{channel}/{{{INTEGRATION_ID}}}": channel for channel in channels},
        }
    )


# Meta proves it owns a callback URL with a GET on the same path it later POSTs to.
HANDSHAKE_ROUTES: Final[Mapping[str, Channel]] = _routes(_META)

DELIVERY_ROUTES: Final[Mapping[str, Channel]] = _routes(MESSAGING_CHANNELS)
"""Route template -> channel of every ``POST`` that delivers platform events: each channel's
shared route (platform-wide secrets) and per-integration route (its own secret as well)."""


def integration_webhook_url(base_url: str, channel: Channel, integration_id: str) -> str:
    """Return the URL a platform must deliver one integration's webhooks to."""
    return f"{base_url.rstrip('/')}{WEBHOOK_ROOT}/{channel}/{integration_id}"


WEBHOOK_CHANNELS: Final = tuple(dict.fromkeys(DELIVERY_ROUTES.values()))
"""Every channel that has a webhook route, in a stable order (metric labels start at 0)."""
