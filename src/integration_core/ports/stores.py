"""The other storage ports: payments, payment notifications, credentials, idempotency.

Every method raises :class:`~integration_core.errors.StorageUnavailable` when the store cannot
be reached, never a driver's own exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from integration_core.credentials import CredentialRef, Secret
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId
from integration_core.paging import Page
from integration_core.payment_notifications import NotificationStatus, PaymentNotification
from integration_core.payments import Payment, PaymentState, ProviderRefund, Refund


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
