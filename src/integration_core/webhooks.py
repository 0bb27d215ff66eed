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

    The request is answered once this is stored; a worker splits it into events after (see
    :mod:`integration_core.use_cases.splitting`). *integration_id* is the integration the
    request's path named, if any. *verified_by* is who vouched for it: the integration whose own
    secret verified it, or ``None`` for a platform-wide secret. Keeping the raw body lets a
    fixed normalizer be replayed over old deliveries.
    """

    id: str
    channel: Channel
    received_at: datetime
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    headers: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    integration_id: str | None = None
    verified_by: str | None = None


# The credential (in the credential store) that holds an integration's own webhook secret.
INTEGRATION_WEBHOOK_SECRET: Mapping[Channel, str] = {
    Channel.WHATSAPP: "app_secret",
    Channel.MESSENGER: "app_secret",
    Channel.INSTAGRAM: "app_secret",
    Channel.TELEGRAM: "webhook_secret_token",
    Channel.WEBCHAT: "signing_secret",
    Channel.TAWKTO: "webhook_secret",
}

# Headers worth keeping with a stored delivery: they identify, sign or describe it. Secrets
# (Telegram's secret token, Authorization) are never stored.
STORED_HEADERS: frozenset[str] = frozenset(
    {
        "content-type",
        "user-agent",
        "x-hub-signature-256",
        "x-tawk-signature",
        "x-hook-event-id",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-signature",
        "x-request-id",
    }
)


def routing_secret_token(integration_id: str, random_part: str) -> str:
    """Return a Telegram secret token that names its integration: ``<integration id>-<random>``.

    Telegram sends the token back on every delivery, so the shared webhook path can route by it
    without an index of secrets; the random part is what authenticates.
    """
    return f"{integration_id}-{random_part}"


def secret_token_owner(token: str) -> str | None:
    """Return the integration id a :func:`routing_secret_token` names, or ``None``."""
    owner, sep, rest = token.partition("-")
    if not sep or not rest or not owner.startswith("int_"):
        return None
    return owner
