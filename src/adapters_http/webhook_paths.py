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
"""The path parameter that names the integration (Telegram and webchat, whose setup registers
a per-integration URL)."""

# Meta proves it owns a callback URL with a GET on the same path it later POSTs to.
HANDSHAKE_ROUTES: Final[Mapping[str, Channel]] = MappingProxyType(
    {
        f"{WEBHOOK_ROOT}/{channel}": channel
        for channel in (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM)
    }
)

DELIVERY_ROUTES: Final[Mapping[str, Channel]] = MappingProxyType(
    {
        **{
            f"{WEBHOOK_ROOT}/{channel}": channel
            for channel in (
                Channel.WHATSAPP,
                Channel.MESSENGER,
                Channel.INSTAGRAM,
                Channel.TAWKTO,
                Channel.TELEGRAM,
                Channel.WEBCHAT,
            )
        },
        f"{WEBHOOK_ROOT}/{Channel.TELEGRAM}/{{{INTEGRATION_ID}}}": Channel.TELEGRAM,
        f"{WEBHOOK_ROOT}/{Channel.WEBCHAT}/{{{INTEGRATION_ID}}}": Channel.WEBCHAT,
    }
)
"""Route template -> channel of every ``POST`` that delivers platform events."""

WEBHOOK_CHANNELS: Final = tuple(dict.fromkeys(DELIVERY_ROUTES.values()))
"""Every channel that has a webhook route, in a stable order (metric labels start at 0)."""
