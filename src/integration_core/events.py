"""Normalized events and their delivery state (the inbox and outbox rows).

The shape of a forwarded event is documented in ``docs/events.schema.json``.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from integration_core.channels import Channel
from integration_core.errors import Conflict
from integration_core.ids import TenantId


class EventType(enum.StrEnum):
    """What happened, as the messaging service sees it."""

    MESSAGE_RECEIVED = "message.received"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_SENT = "message.sent"
    """A message the account itself sent from elsewhere (Messenger/Instagram echoes)."""
    MESSAGE_DELETED = "message.deleted"
    """A message its sender took back (Instagram unsend, WhatsApp revoke)."""
    MESSAGE_STATUS = "message.status"
    PLATFORM_EVENT = "platform.event"
    """Any other item of a delivery, forwarded as the platform sent it (``kind``, ``payload``)."""
    CONVERSATION_STARTED = "conversation.started"
    CONVERSATION_ENDED = "conversation.ended"
    TICKET_CREATED = "ticket.created"
    PAYMENT_UPDATED = "payment.updated"
    INTEGRATION_TOKEN_EXPIRING = "integration.token_expiring"  # noqa: S105 - an event name
    INTEGRATION_REAUTHORIZATION_REQUIRED = "integration.reauthorization_required"
    INTEGRATION_EXPIRED = "integration.expired"
    INTEGRATION_RECOVERED = "integration.recovered"


class DeliveryStatus(enum.StrEnum):
    """Where an event is on its way to the messaging service."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    IGNORED = "ignored"


@attrs.frozen(kw_only=True)
class NormalizedEvent:
    """The event forwarded to the messaging service, identical on every retry."""

    id: str
    type: EventType
    tenant_id: TenantId
    integration_id: str
    channel: Channel
    occurred_at: datetime
    received_at: datetime
    data: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class EventRecord:
    """One platform event as stored: its identity, routing, payload and delivery state.

    *dedupe_key* is unique per channel (a WhatsApp wamid, a Telegram bot + update id, ...), so the
    database itself recognises a repeat. *tenant_id* and *integration_id* are ``None`` for an event
    that routed to no integration; such an event is ``ignored``. *inbound_id* points at the raw
    delivery it came from (``None`` for events we raise ourselves, like token expiry).

    *lease_token* names the claim that holds the event (:meth:`EventStore.claim_due`), ``None``
    when none does; only a settlement carrying it is recorded. It is a handle on the claim, not
    part of the event, so two records of one event compare equal whoever holds it.
    """

    id: str
    channel: Channel
    dedupe_key: str
    type: EventType
    tenant_id: TenantId | None
    integration_id: str | None
    inbound_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    occurred_at: datetime
    received_at: datetime
    delivered_at: datetime | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)
    lease_token: str | None = attrs.field(default=None, eq=False)

    def to_forward(self) -> NormalizedEvent:
        """Return the event to send downstream.

        Raises :class:`Conflict` for an event that routed to no integration.
        """
        if self.tenant_id is None or self.integration_id is None:
            raise Conflict(f"event {self.id} routed to no integration and is never forwarded")
        return NormalizedEvent(
            id=self.id,
            type=self.type,
            tenant_id=self.tenant_id,
            integration_id=self.integration_id,
            channel=self.channel,
            occurred_at=self.occurred_at,
            received_at=self.received_at,
            data=self.data,
        )


@attrs.frozen(kw_only=True)
class Settlement:
    """How one delivery attempt ended, as the outbox records it.

    No *error*: delivered. An *error* with a *retry_at*: pending again from then; with none:
    dead-lettered. Build one with :meth:`delivered` or :meth:`failed`. *lease_token* is the
    claimed record's: if the event was replayed or claimed again meanwhile, the outbox skips
    the settlement instead of overwriting the newer state with this older attempt.
    """

    event_id: str
    at: datetime
    error: str | None = None
    retry_at: datetime | None = None
    lease_token: str | None = None

    @classmethod
    def delivered(
        cls, event_id: str, *, at: datetime, lease_token: str | None = None
    ) -> Settlement:
        """Return the settlement of a successful attempt."""
        return cls(event_id=event_id, at=at, lease_token=lease_token)

    @classmethod
    def failed(
        cls,
        event_id: str,
        *,
        error: str,
        retry_at: datetime | None,
        at: datetime,
        lease_token: str | None = None,
    ) -> Settlement:
        """Return the settlement of a failed attempt (``retry_at=None``: dead-letter it)."""
        return cls(
            event_id=event_id, at=at, error=error, retry_at=retry_at, lease_token=lease_token
        )

    @property
    def status(self) -> DeliveryStatus:
        """Return the event's status after this attempt."""
        if self.error is None:
            return DeliveryStatus.DELIVERED
        return DeliveryStatus.PENDING if self.retry_at is not None else DeliveryStatus.DEAD


MAX_SPLIT_CLAIMS: Final = 5
"""How many times a spooled delivery is handed to a splitter before it is given up as failed."""
SPLIT_ABANDONED: Final = "split_abandoned: its splitter stopped without an answer every time"
"""The failure reason of a delivery given up after :data:`MAX_SPLIT_CLAIMS` claims."""


def new_lease_token() -> str:
    """Return a fresh token for one claim of the outbox (unguessable, so never reused)."""
    return secrets.token_hex(16)


@attrs.frozen(kw_only=True)
class QueueStats:
    """The outbox at a glance, for metrics and health."""

    pending: int
    dead: int
    oldest_pending_at: datetime | None


def queued_any(new: Sequence[bool], events: Sequence[EventRecord]) -> bool:
    """Tell whether storing *events* (with :meth:`EventStore.record`'s answer *new*) queued at
    least one for forwarding: the moment to wake the workers."""
    return any(
        is_new and event.status is DeliveryStatus.PENDING
        for is_new, event in zip(new, events, strict=True)
    )
