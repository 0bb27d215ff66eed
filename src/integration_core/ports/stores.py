"""The storage ports: integrations, events, payments, notifications, credentials, idempotency.

Every method raises :class:`~integration_core.errors.StorageUnavailable` when the store cannot
be reached, never a driver's own exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from integration_core.channels import (
    Channel,
    Integration,
    StatusChange,
)
from integration_core.credentials import CredentialRef, Secret
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    QueueStats,
    Settlement,
)
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId
from integration_core.paging import Page
from integration_core.payment_notifications import NotificationStatus, PaymentNotification
from integration_core.payments import (
    Payment,
    PaymentState,
    ProviderRefund,
    Refund,
)
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState
from integration_core.webhooks import InboundEvent

# --------------------------------------------------------------------------- stores


class IntegrationDirectory(Protocol):
    """Find integrations of any tenant: webhook routing, handshakes, shared platform objects."""

    async def find(self, integration_id: str) -> Integration | None:
        """Return any tenant's integration by id (webhook routing only), or ``None``."""
        ...

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """Return the integration that owns *external_id* on *channel*, or ``None``."""
        ...

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """Return every integration, of any tenant, whose ``config[key]`` is *value*, by id.

        Finds who else uses a platform object shared between accounts (a WhatsApp business
        account, a Facebook Page) before undoing its webhook subscription.
        """
        ...


class IntegrationChanges(Protocol):
    """Keep integrations and their status history; every read for a caller is tenant-scoped."""

    async def add(self, integration: Integration) -> None:
        """Store a new integration.

        Raises :class:`IntegrationExists` when its channel and external id are already connected
        (by any tenant), since that pair routes webhooks.
        """
        ...

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """Return the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        ...

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """Return the tenant's integrations, oldest first."""
        ...

    async def update(self, integration: Integration) -> None:
        """Replace a stored integration (matched by id and tenant); :class:`NotFound` if absent."""
        ...

    async def modify(
        self,
        tenant_id: TenantId,
        integration_id: str,
        change: Callable[[Integration], Integration],
    ) -> Integration:
        """Apply *change* to the integration as stored, under its row lock; return the result.

        Only what *change* altered among status (with ``status_changed_at``, appended to the
        history), config, external id and ``updated_at`` is written, so a concurrent token
        rotation's new expiry is never undone. *change* may raise: nothing is written then.
        :class:`NotFound` if absent or another tenant's; :class:`IntegrationExists` for an
        external id another integration owns.
        """
        ...

    async def status_history(
        self, tenant_id: TenantId, integration_id: str
    ) -> Sequence[StatusChange]:
        """Return the integration's status changes, oldest first; :class:`NotFound` as ``get``."""
        ...

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        ...

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """Return integrations of any tenant whose token expires before *moment*."""
        ...

    async def count_by_channel(self) -> Mapping[Channel, int]:
        """Return how many active integrations each channel has."""
        ...


class RotationLeases(Protocol):
    """Lease integrations to one token rotator at a time, across replicas."""

    async def claim_for_rotation(self, criteria: RotationCriteria) -> Sequence[RotationClaim]:
        """Lease the integrations *criteria* finds due for token rotation, to its owner.

        Race-free across replicas: an integration is held by one owner at a time, until its
        lease ends or it is released.
        """
        ...

    async def claim_one_for_rotation(
        self, integration_id: str, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """Lease one integration to *owner*, due or not (a refresh its tenant asked for).

        ``None`` if another rotator holds it, or it does not exist.
        """
        ...

    async def release_rotation(
        self, claim: RotationClaim, *, integration: Integration, state: RotationState
    ) -> bool:
        """Save a rotation's result and free the lease; ``False`` if *claim* no longer holds it.

        Writes *integration*'s token expiry and ``updated_at``, and its status (with
        ``status_changed_at``) only if the stored status is still the one claimed, so a status
        an operator set meanwhile (say ``disabled``) wins; then *state*.
        """
        ...


class IntegrationStore(IntegrationChanges, IntegrationDirectory, RotationLeases, Protocol):
    """All three roles, as the SQL store and its fake implement them; a use case asks for the
    narrowest it needs. The store is given ``on_change``, called with the id of every
    integration it adds, changes, rotates or deletes (caches forget it)."""


class EventLog(Protocol):
    """The stored events: recorded once (deduplicated), read, listed, scanned and requeued.

    The inbox row and the outbox row are one record: storing an event is what queues it, so an
    event answered ``200`` to a platform is always forwarded (see :class:`Outbox`).
    """

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """Store a raw delivery and the events split from it, in one transaction.

        Returns, per event, ``True`` if it was new and ``False`` if an event with the same channel
        and dedupe key was already stored (the stored one is left untouched). Either everything
        is committed or :class:`StorageUnavailable` is raised.
        """
        ...

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """Return the tenant's event; :class:`NotFound` if absent or another tenant's."""
        ...

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """Return a stored raw delivery; :class:`NotFound` if absent."""
        ...

    async def list(
        self,
        tenant_id: TenantId,
        *,
        status: DeliveryStatus | None = None,
        channel: Channel | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[EventRecord]:
        """Return the tenant's events, newest first; :class:`InvalidInput` for a bad cursor."""
        ...

    async def scan(
        self,
        *,
        tenant_id: TenantId | None = None,
        status: DeliveryStatus | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        after_id: str | None = None,
        limit: int = 200,
    ) -> Sequence[EventRecord]:
        """Return up to *limit* events with ids above *after_id*, lowest id first.

        Every tenant's events (unrouted ones included) unless *tenant_id* is given; for jobs
        that walk the whole table page by page (replay of every dead event), passing the last
        id back as *after_id*. Keyset paging, not offsets: a caller that changes the events it
        was handed (requeues them) never sees one twice nor skips one. *received_after* is
        inclusive, *received_before* exclusive; :class:`InvalidInput` for a bad *limit*.
        """
        ...

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Queue the tenant's event for delivery again at *at*, keeping its id (replay).

        The attempt count starts again at zero, so a replayed dead event gets the whole retry
        schedule. *data* replaces the payload, for a replay re-normalized from the raw delivery.
        Any lease is dropped with its token, so an attempt still in flight cannot settle it.
        """
        ...


class Outbox(Protocol):
    """The forwarding queue over the same events: leased by workers, settled by attempt."""

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """Lease up to *limit* pending events due at *now*, oldest first.

        A leased event is not handed to another caller until the lease runs out, so a crashed
        worker's events come back and concurrent workers never share one. Each record carries
        the claim's fresh ``lease_token``, for its :class:`Settlement`.
        """
        ...

    async def settle(self, settlements: Sequence[Settlement]) -> Sequence[str]:
        """Record how delivery attempts ended, all in one transaction; return the ids skipped.

        Each counts as an attempt and releases its event's lease: a delivered event is never
        sent again, a failed one is due again at its ``retry_at`` or dead-lettered. One call per
        batch keeps the outbox's bookkeeping off the per-event path. A settlement is skipped
        if its event is unknown or no longer held by its ``lease_token`` (replayed, or claimed
        again after the lease ran out): an older attempt never overwrites a newer state.
        """
        ...

    async def stats(self) -> QueueStats:
        """Return the outbox depth and its oldest pending event."""
        ...


class EventStore(EventLog, Outbox, Protocol):
    """Both roles of the events table, as one SQL class (and its fake) implements them; a use
    case asks for the narrower :class:`EventLog` or :class:`Outbox` it needs."""


class EventInbox(Protocol):
    """The spool of raw deliveries: appended by the request, split into events by a worker.

    A request is answered once :meth:`append` returned; everything that can go wrong with a
    delivery's content happens after, in :meth:`complete` or :meth:`fail`, where it concerns
    that delivery alone.
    """

    async def append(self, inbound: InboundEvent) -> None:
        """Store a verified raw delivery as pending; return once it is durable.

        Concurrent appends may share one transaction (group commit); one that the database
        refuses never fails the others. Raises :class:`StorageUnavailable`.
        """
        ...

    async def claim_spooled(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[InboundEvent]:
        """Lease up to *limit* pending deliveries, oldest first (like ``claim_due``)."""
        ...

    async def complete(
        self, splits: Sequence[tuple[InboundEvent, Sequence[EventRecord]]], *, at: datetime
    ) -> list[tuple[bool, ...]]:
        """Store the events split from each delivery and mark the deliveries processed, in one
        transaction; return, per delivery, :meth:`EventStore.record`'s answer for its events."""
        ...

    async def fail(self, inbound_id: str, *, error: str, at: datetime) -> None:
        """Mark a delivery that cannot be split ``failed`` with *error* (kept for replay)."""
        ...

    async def respool(
        self,
        *,
        failed_only: bool,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
    ) -> int:
        """Make stored deliveries pending again (``replay --renormalize``); return how many."""
        ...

    async def spool_stats(self) -> QueueStats:
        """Return how many deliveries wait to be split and when the oldest arrived."""
        ...


class PaymentStore(Protocol):
    """Keep payments and their refunds."""

    async def add(self, payment: Payment) -> None:
        """Store a new payment."""
        ...

    async def get(self, tenant_id: TenantId, payment_id: str) -> Payment:
        """Return the tenant's payment by our id or the provider's; :class:`NotFound` otherwise."""
        ...

    async def find_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        """Return any tenant's payment by the provider's id (notification routing), or ``None``."""
        ...

    async def find(self, payment_id: str) -> Payment | None:
        """Return any tenant's payment by our id (notification routing), or ``None``."""
        ...

    async def update(self, payment: Payment) -> None:
        """Replace a stored payment and its refunds; :class:`NotFound` if absent.

        Whole-record: for data set-up and repair only. The payment flows write through the
        field-level methods below, which never rewrite what they did not change.
        """
        ...

    async def set_checkout(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        preference_id: str,
        checkout_url: str,
        at: datetime,
    ) -> None:
        """Store the hosted checkout opened for a payment (those two fields only)."""
        ...

    async def change_state(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        expected: PaymentState,
        new: PaymentState,
        at: datetime,
    ) -> bool:
        """Write *new* if the stored state is still *expected* (compare-and-set); else ``False``.

        One statement, so of two writers that read the same state only one wins; the other reads
        again and decides anew. Appends a status change to the payment's history.
        :class:`NotFound` if absent, :class:`Conflict` if *new* names another payment's
        provider id.
        """
        ...

    async def reserve_refund(self, tenant_id: TenantId, payment_id: str, refund: Refund) -> Payment:
        """Append *refund* (``pending``) if the balance still allows it; return the payment.

        Atomic with the balance check, so concurrent refunds never reserve more than the
        payment's amount (:class:`RefundExceedsBalance`). A refund with *refund*'s id already
        stored is left as it is (a concurrent retry): the returned payment holds it.
        """
        ...

    async def settle_refund(
        self,
        tenant_id: TenantId,
        payment_id: str,
        refund_id: str,
        seen: ProviderRefund,
        *,
        at: datetime,
    ) -> Refund:
        """Complete the pending refund *refund_id* with the provider's answer; return it.

        If the provider's refund is stored already (a notification recorded it first), the
        pending one is dropped and the stored one returned: refunds are unique on the
        provider's id. A pending refund that is gone is appended again.
        """
        ...

    async def release_refund(self, tenant_id: TenantId, payment_id: str, refund_id: str) -> None:
        """Drop the refund *refund_id* if still pending (the provider refused it)."""
        ...

    async def record_refunds(
        self,
        tenant_id: TenantId,
        payment_id: str,
        seen: Sequence[ProviderRefund],
        *,
        at: datetime,
        pending_before: datetime,
    ) -> None:
        """Append the provider's refunds not stored yet (by provider id), update the status of
        those that are, and drop refunds pending since before *pending_before* (their request
        ended long ago; whatever it did at the provider is among *seen*)."""
        ...

    async def list(
        self, tenant_id: TenantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Payment]:
        """Return the tenant's payments, newest first."""
        ...


class PaymentNotificationStore(Protocol):
    """The inbox of payment-provider notifications, processed apart from the request."""

    async def add(self, notification: PaymentNotification) -> bool:
        """Store *notification*; ``False`` if one with its dedupe key is stored already."""
        ...

    async def add_after(self, notification: PaymentNotification, *, after_key: str) -> bool:
        """Store *notification* only if the one with dedupe key *after_key* was processed.

        ``False`` if that one is still pending (it will fetch the latest state anyway) or
        *notification*'s own key is stored already. Defers a repeat to a later window.
        """
        ...

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[PaymentNotification]:
        """Lease up to *limit* pending notifications due at *now*, oldest first."""
        ...

    async def settle(
        self,
        notification_id: str,
        *,
        status: NotificationStatus,
        outcome: str | None,
        at: datetime,
        retry_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Record one processing attempt; ``pending`` with *retry_at* comes back then."""
        ...


class CredentialStore(Protocol):
    """Keep integration secrets encrypted at rest (database) or in Vault."""

    async def put(self, ref: CredentialRef, secret: Secret) -> None:
        """Store or replace the secret at *ref*."""
        ...

    async def get(self, ref: CredentialRef) -> Secret:
        """Return the secret at *ref*; :class:`NotFound` if absent."""
        ...

    async def delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove every secret of an integration (absent ones are fine)."""
        ...


class IdempotencyStore(Protocol):
    """Remember create requests by the tenant's ``Idempotency-Key``.

    Stored, so a repeat that reaches another replica, or comes after a restart, is recognised.
    """

    async def claim(
        self,
        record: IdempotencyRecord,
        *,
        abandoned_before: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        """Store *record* as in progress; ``None`` if that claimed its key.

        Otherwise return the record holding the key (same tenant, scope and key), untouched,
        unless it is stale: an in-progress one created before *abandoned_before* (its request
        died) or a completed one created before *expired_before* is replaced by *record*.
        Two concurrent claims of one key never both succeed.
        """
        ...

    async def complete(self, record: IdempotencyRecord) -> None:
        """Store the outcome (*completed_at*, *resource_id*, *response*) of a claimed record."""
        ...

    async def release(self, tenant_id: TenantId, scope: str, key: str) -> None:
        """Forget an in-progress claim whose request failed, so the key can be used again."""
        ...

    async def purge(self, *, created_before: datetime) -> int:
        """Delete every record created before *created_before*, in progress or not; return how
        many. Nothing reads a record older than its retention, so keeping it only grows the table.
        """
        ...
