"""Route templates of the messaging channels' webhooks, from the core's one table of paths.

The routes are registered from these tables and the delivery middleware recognises a webhook
by its route template. Paths are spelled out per channel rather than as ``/webhooks/{channel}``:
an unknown channel is then an ordinary 404, and no pattern can shadow the management routes
under ``/api/v1/integrations/``. The paths themselves live in
:mod:`integration_core.webhook_urls`, which setup also reads for the URLs it hands out.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from integration_core.channels import Channel
from integration_core.webhook_urls import (
    HANDSHAKE_CHANNELS,
    INTEGRATION_ID,
    MESSAGING_CHANNELS,
    WEBHOOK_ROOT,
    integration_path,
    shared_path,
)

__all__ = [
    "DELIVERY_ROUTES",
    "HANDSHAKE_ROUTES",
    "INTEGRATION_ID",
    "WEBHOOK_CHANNELS",
    "WEBHOOK_ROOT",
]


def _routes(channels: tuple[Channel, ...]) -> Mapping[str, Channel]:
    """The shared route and the per-integration route template of each of *channels*."""
    return MappingProxyType(
        {
            **{shared_path(channel): channel for channel in channels},
            **{integration_path(channel, f"{{{INTEGRATION_ID}}}"): channel for channel in channels},
        }
    )


HANDSHAKE_ROUTES: Final[Mapping[str, Channel]] = _routes(HANDSHAKE_CHANNELS)
"""Route template -> channel of Meta's subscription ``GET``."""

DELIVERY_ROUTES: Final[Mapping[str, Channel]] = _routes(MESSAGING_CHANNELS)
"""Route template -> channel of every ``POST`` that delivers platform events: each channel's
shared route (platform-wide secrets) and per-integration route (its own secret as well)."""

WEBHOOK_CHANNELS: Final = MESSAGING_CHANNELS
"""Every channel that has a webhook route, in a stable order (metric labels start at 0)."""
