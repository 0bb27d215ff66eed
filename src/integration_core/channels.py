"""Channels and the integrations that connect a tenant to one of them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

import attrs

from integration_core.credentials import Secret
from integration_core.errors import Conflict
from integration_core.ids import TenantId


class Channel(enum.StrEnum):
    """A platform a tenant can connect."""

    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"
    TAWKTO = "tawkto"
    MERCADOPAGO = "mercadopago"

    @property
    def is_meta(self) -> bool:
        """Tell whether the channel speaks Meta's webhooks (``hub.challenge``, HMAC-SHA256)."""
        return self in _META


_META = frozenset({Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM})

MESSAGING_CHANNELS: tuple[Channel, ...] = tuple(c for c in Channel if c is not Channel.MERCADOPAGO)


class IntegrationStatus(enum.StrEnum):
    """Where an integration is in its lifecycle."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    DISABLED = "disabled"


# Which status may follow which. An expired or revoked token can be fixed (refresh, new
# credentials) and a disabled integration re-enabled, so every state can come back to ACTIVE.
_TRANSITIONS: Mapping[IntegrationStatus, frozenset[IntegrationStatus]] = {
    IntegrationStatus.PENDING: frozenset(
        {
            IntegrationStatus.ACTIVE,
            IntegrationStatus.DISABLED,
            IntegrationStatus.REAUTHORIZATION_REQUIRED,
        }
    ),
    IntegrationStatus.ACTIVE: frozenset(
        {
            IntegrationStatus.EXPIRED,
            IntegrationStatus.REAUTHORIZATION_REQUIRED,
            IntegrationStatus.DISABLED,
        }
    ),
    IntegrationStatus.EXPIRED: frozenset(
        {
            IntegrationStatus.ACTIVE,
            IntegrationStatus.REAUTHORIZATION_REQUIRED,
            IntegrationStatus.DISABLED,
        }
    ),
    IntegrationStatus.REAUTHORIZATION_REQUIRED: frozenset(
        {IntegrationStatus.ACTIVE, IntegrationStatus.EXPIRED, IntegrationStatus.DISABLED}
    ),
    IntegrationStatus.DISABLED: frozenset({IntegrationStatus.ACTIVE}),
}


def can_transition(current: IntegrationStatus, new: IntegrationStatus) -> bool:
    """Tell whether an integration in *current* may move to *new* (staying put is allowed)."""
    return new is current or new in _TRANSITIONS[current]


@attrs.frozen(kw_only=True)
class Integration:
    """A tenant's connection to one external account on one channel.

    *external_id* is the platform's id of the account (phone number id, page id, bot id, property
    id, seller id); it routes inbound webhooks, so one external account has one integration.
    Secrets are not here: they live in the credential store, referenced by this integration's id.
    """

    id: str
    tenant_id: TenantId
    channel: Channel
    status: IntegrationStatus
    external_id: str
    config: Mapping[str, str] = attrs.field(factory=dict)
    webhook_url: str | None = None
    token_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime

    def with_status(self, status: IntegrationStatus, *, at: datetime) -> Integration:
        """Return this integration moved to *status* at *at*.

        Raises :class:`Conflict` for a move the lifecycle does not allow.
        """
        if status is self.status:
            return self
        if not can_transition(self.status, status):
            raise Conflict(f"an integration cannot go from {self.status} to {status}")
        return attrs.evolve(self, status=status, status_changed_at=at, updated_at=at)

    def with_changes_from(self, changed: Integration) -> Integration:
        """Return this integration with what ``modify`` writes taken from *changed*.

        Status (with ``status_changed_at``), config, external id and ``updated_at``; the rest,
        such as a token expiry a rotation wrote meanwhile, stays as it is here (see
        :meth:`~integration_core.ports.IntegrationChanges.modify`).
        """
        return attrs.evolve(
            self,
            status=changed.status,
            status_changed_at=changed.status_changed_at,
            config=changed.config,
            external_id=changed.external_id,
            updated_at=changed.updated_at,
        )

    @property
    def receives_events(self) -> bool:
        """Tell whether inbound events are forwarded: all but disabled (expired still receives)."""
        return self.status is not IntegrationStatus.DISABLED


@attrs.frozen(kw_only=True)
class StatusChange:
    """One status an integration took, and when: an entry of its status history.

    The history starts with the status the integration was created in and gains one entry
    per change, so an operator can see when a token expired or the integration was disabled.
    """

    status: IntegrationStatus
    at: datetime


@attrs.frozen(kw_only=True)
class ValidatedAccount:
    """What a platform told us about credentials it accepted.

    *external_id* becomes the integration's routing key; *token_expires_at* is ``None`` for a
    token that never expires (Telegram bots, Meta system users).
    """

    external_id: str
    display_name: str | None = None
    token_expires_at: datetime | None = None
    config: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class RefreshedToken:
    """A token a platform issued for an old one (and, for OAuth, a new refresh token)."""

    access_token: Secret = attrs.field(repr=False)
    expires_at: datetime | None
    refresh_token: Secret | None = attrs.field(default=None, repr=False)
