"""Inbound webhook deliveries, exactly as the platform sent them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from integration_core.channels import Channel


def _lower_keys(headers: Mapping[str, str]) -> Mapping[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@attrs.frozen(kw_only=True)
class WebhookRequest:
    """One HTTP delivery to verify: the raw *body* bytes, lower-cased *headers*, the *query*.

    Signatures are computed over these bytes as received; nothing is re-serialized.
    """

    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    query: Mapping[str, str] = attrs.field(factory=dict)

    def header(self, name: str) -> str | None:
        """Return header *name* (any case), or ``None``."""
        return self.headers.get(name.lower())


@attrs.frozen(kw_only=True)
class InboundEvent:
    """A verified webhook delivery as stored in the inbox, before it is split and normalized.

    Keeping the raw body lets a fixed normalizer be replayed over old deliveries.
    """

    id: str
    channel: Channel
    received_at: datetime
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    headers: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
