"""In-memory stores with the same behaviour as the database adapters.

``tests/contract`` runs the same suites over these and over SQLite and PostgreSQL, so a test that
swaps them in is testing what production does. Each store can be told to fail, to exercise the
"database down" paths: set ``available = False``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from integration_core.channels import Channel
from integration_core.errors import Conflict, NotFound, StorageUnavailable
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    QueueStats,
    Settlement,
    new_lease_token,
    queued_any,
)
from integration_core.ids import TenantId, new_id
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.payments import Payment, PaymentState, ProviderRefund, Refund
from integration_core.webhooks import InboundEvent


class _Switch:
    available: bool = True

    def _check(self) -> None:
        if not self.available:
            raise StorageUnavailable()


class InMemoryEventStore(_Switch):
    """Keep inbound deliveries and events in dicts, with leases like the SQL outbox."""

    def __init__(self, *, on_queued: Callable[[], None] | None = None) -> None:
        self.on_queued = on_queued
        """Called after a record or requeue queued an event for forwarding (wakes workers)."""
        self._inbound: dict[str, InboundEvent] = {}
        self._events: dict[str, EventRecord] = {}
        self._keys: dict[tuple[Channel, str], str] = {}
        self._leases: dict[str, datetime] = {}

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """Store a delivery and its events; ``False`` for each repeat."""
        self._check()
        if inbound is not None:
            self._inbound.setdefault(inbound.id, inbound)
        outcome: list[bool] = []
        for event in events:
            key = (event.channel, event.dedupe_key)
            if key in self._keys or event.id in self._events:
                outcome.append(False)
                continue
            self._keys[key] = event.id
            self._events[event.id] = event
            outcome.append(True)
        if self.on_queued is not None and queued_any(outcome, events):
            self.on_queued()
        return tuple(outcome)

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """Return the tenant's event."""
        self._check()
        found = self._events.get(event_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"event {event_id} was not found")
        return found

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """Return a stored raw delivery."""
        self._check()
        try:
            return self._inbound[inbound_id]
        except KeyError:
            raise NotFound(f"inbound delivery {inbound_id} was not found") from None

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
        """Return the tenant's events, newest (highest id) first."""
        self._check()
        check_limit(limit)
        after_id = decode_cursor(cursor) if cursor else None
        found = sorted(
            (
                e
                for e in self._events.values()
                if e.tenant_id == tenant_id
                and (status is None or e.status is status)
                and (channel is None or e.channel is channel)
                and (received_after is None or e.received_at >= received_after)
                and (received_before is None or e.received_at < received_before)
                and (after_id is None or e.id < after_id)
            ),
            key=lambda e: e.id,
            reverse=True,
        )
        items = tuple(found[:limit])
        more = len(found) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

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
        """Return up to *limit* events (any tenant's unless *tenant_id*) after *after_id*, by id."""
        self._check()
        check_limit(limit)
        return sorted(
            (
                e
                for e in self._events.values()
                if (tenant_id is None or e.tenant_id == tenant_id)
                and (status is None or e.status is status)
                and (received_after is None or e.received_at >= received_after)
                and (received_before is None or e.received_at < received_before)
                and (after_id is None or e.id > after_id)
            ),
            key=lambda e: e.id,
        )[:limit]

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """Lease the oldest due pending events under one fresh lease token."""
        self._check()
        due = sorted(
            (
                e
                for e in self._events.values()
                if e.status is DeliveryStatus.PENDING
                and (e.next_attempt_at is None or e.next_attempt_at <= now)
                and self._leases.get(e.id, now) <= now
            ),
            key=lambda e: (e.next_attempt_at or e.received_at, e.id),
        )[:limit]
        token = new_lease_token()
        claimed = [attrs.evolve(event, lease_token=token) for event in due]
        for event in claimed:
            self._leases[event.id] = now + lease
            self._events[event.id] = event
        return claimed

    async def settle(self, settlements: Sequence[Settlement]) -> Sequence[str]:
        """Record how attempts ended; return the ids of those skipped (unknown, or no longer
        held by their lease token)."""
        self._check()
        skipped: builtins.list[str] = []
        for settlement in settlements:
            event = self._events.get(settlement.event_id)
            if event is None or event.lease_token != settlement.lease_token:
                skipped.append(settlement.event_id)
                continue
            self._leases.pop(event.id, None)
            if settlement.error is None:
                changes: dict[str, Any] = {"delivered_at": settlement.at, "next_attempt_at": None}
            else:
                changes = {"last_error": settlement.error, "next_attempt_at": settlement.retry_at}
            self._events[event.id] = attrs.evolve(
                event,
                status=settlement.status,
                attempts=event.attempts + 1,
                lease_token=None,
                **changes,
            )
        return skipped

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Queue the tenant's event again under the same id (with new *data*, if given)."""
        event = await self.get(tenant_id, event_id)
        self._leases.pop(event_id, None)
        again = attrs.evolve(
            event,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=at,
            delivered_at=None,
            data=event.data if data is None else data,
            lease_token=None,
        )
        self._events[event_id] = again
        if self.on_queued is not None:
            self.on_queued()
        return again

    async def stats(self) -> QueueStats:
        """Return the outbox depth."""
        self._check()
        pending = [e for e in self._events.values() if e.status is DeliveryStatus.PENDING]
        dead = sum(1 for e in self._events.values() if e.status is DeliveryStatus.DEAD)
        oldest = min((e.received_at for e in pending), default=None)
        return QueueStats(pending=len(pending), dead=dead, oldest_pending_at=oldest)


class InMemoryPaymentStore(_Switch):
    """Keep payments (with their refunds) in a dict."""

    def __init__(self) -> None:
        self._items: dict[str, Payment] = {}

    async def add(self, payment: Payment) -> None:
        """Store a new payment."""
        self._check()
        if payment.id in self._items or (
            payment.provider_payment_id is not None
            and await self.find_by_provider_id(payment.provider_payment_id) is not None
        ):
            raise Conflict(f"payment {payment.id} already exists")
        for refund in payment.refunds:
            if refund.provider_refund_id is not None and self._refund_by_provider_id(
                refund.provider_refund_id
            ):
                raise Conflict(f"refund {refund.provider_refund_id} is already stored")
        self._items[payment.id] = payment

    async def get(self, tenant_id: TenantId, payment_id: str) -> Payment:
        """Return the tenant's payment by our id or the provider's."""
        self._check()
        found = self._items.get(payment_id) or next(
            (p for p in self._items.values() if p.provider_payment_id == payment_id), None
        )
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"payment {payment_id} was not found")
        return found

    async def find_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        """Return any tenant's payment by the provider's id."""
        self._check()
        return next(
            (p for p in self._items.values() if p.provider_payment_id == provider_payment_id),
            None,
        )

    async def find(self, payment_id: str) -> Payment | None:
        """Return any tenant's payment by our id."""
        self._check()
        return self._items.get(payment_id)

    async def update(self, payment: Payment) -> None:
        """Replace a stored payment."""
        self._check()
        current = self._items.get(payment.id)
        if current is None or current.tenant_id != payment.tenant_id:
            raise NotFound(f"payment {payment.id} was not found")
        self._items[payment.id] = payment

    def _owned(self, tenant_id: TenantId, payment_id: str) -> Payment:
        self._check()
        found = self._items.get(payment_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"payment {payment_id} was not found")
        return found

    def _refund_by_provider_id(self, provider_refund_id: str) -> tuple[Payment, Refund] | None:
        for payment in self._items.values():
            for refund in payment.refunds:
                if refund.provider_refund_id == provider_refund_id:
                    return payment, refund
        return None

    async def set_checkout(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        preference_id: str,
        checkout_url: str,
        at: datetime,
    ) -> None:
        """Store the hosted checkout opened for a payment."""
        payment = self._owned(tenant_id, payment_id)
        self._items[payment_id] = attrs.evolve(
            payment, preference_id=preference_id, checkout_url=checkout_url, updated_at=at
        )

    async def change_state(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        expected: PaymentState,
        new: PaymentState,
        at: datetime,
    ) -> bool:
        """Write *new* if the stored state is still *expected*."""
        payment = self._owned(tenant_id, payment_id)
        if payment.state != expected:
            return False
        if new.provider_payment_id is not None and any(
            p.provider_payment_id == new.provider_payment_id and p.id != payment_id
            for p in self._items.values()
        ):
            raise Conflict(f"provider payment {new.provider_payment_id} is another payment's")
        self._items[payment_id] = attrs.evolve(
            payment,
            provider_payment_id=new.provider_payment_id,
            status=new.status,
            status_detail=new.status_detail,
            provider_updated_at=new.provider_updated_at,
            updated_at=at,
        )
        return True

    async def reserve_refund(self, tenant_id: TenantId, payment_id: str, refund: Refund) -> Payment:
        """Append the pending *refund* if the balance allows it."""
        payment = self._owned(tenant_id, payment_id)
        if payment.refund(refund.id) is not None:
            return payment
        payment.check_refund(refund.amount)
        payment = attrs.evolve(payment, refunds=(*payment.refunds, refund))
        self._items[payment_id] = payment
        return payment

    async def settle_refund(
        self,
        tenant_id: TenantId,
        payment_id: str,
        refund_id: str,
        seen: ProviderRefund,
        *,
        at: datetime,
    ) -> Refund:
        """Complete the pending refund with the provider's answer."""
        payment = self._owned(tenant_id, payment_id)
        known = self._refund_by_provider_id(seen.provider_refund_id)
        if known is not None and known[1].id != refund_id:
            others = tuple(r for r in payment.refunds if r.id != refund_id or not r.pending)
            self._items[payment_id] = attrs.evolve(payment, refunds=others)
            return known[1]
        held = payment.refund(refund_id)
        done = Refund(
            id=refund_id,
            amount=seen.amount,
            status=seen.status,
            provider_refund_id=seen.provider_refund_id,
            provider_key=held.provider_key if held else None,
            created_at=held.created_at if held else at,
        )
        if held is None:
            refunds = (*payment.refunds, done)
        else:
            refunds = tuple(done if r.id == refund_id else r for r in payment.refunds)
        self._items[payment_id] = attrs.evolve(payment, refunds=refunds)
        return done

    async def release_refund(self, tenant_id: TenantId, payment_id: str, refund_id: str) -> None:
        """Drop the refund *refund_id* if still pending."""
        payment = self._owned(tenant_id, payment_id)
        kept = tuple(r for r in payment.refunds if r.id != refund_id or not r.pending)
        self._items[payment_id] = attrs.evolve(payment, refunds=kept)

    async def record_refunds(
        self,
        tenant_id: TenantId,
        payment_id: str,
        seen: Sequence[ProviderRefund],
        *,
        at: datetime,
        pending_before: datetime,
    ) -> None:
        """Append the provider's refunds we lack, update known ones, drop stale pending."""
        payment = self._owned(tenant_id, payment_id)
        refunds = list(payment.refunds)
        for refund in seen:
            known = self._refund_by_provider_id(refund.provider_refund_id)
            if known is None:
                refunds.append(
                    Refund(
                        id=new_id("ref"),
                        amount=refund.amount,
                        status=refund.status,
                        provider_refund_id=refund.provider_refund_id,
                        created_at=at,
                    )
                )
                continue
            owner, held = known
            if owner.id == payment_id and held.status != refund.status:
                refunds = [
                    attrs.evolve(r, status=refund.status) if r is held else r for r in refunds
                ]
        kept = tuple(r for r in refunds if not (r.pending and r.created_at < pending_before))
        self._items[payment_id] = attrs.evolve(payment, refunds=kept)

    async def list(
        self, tenant_id: TenantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Payment]:
        """Return the tenant's payments, newest (highest id) first."""
        self._check()
        check_limit(limit)
        after_id = decode_cursor(cursor) if cursor else None
        found = sorted(
            (
                p
                for p in self._items.values()
                if p.tenant_id == tenant_id and (after_id is None or p.id < after_id)
            ),
            key=lambda p: p.id,
            reverse=True,
        )
        items = tuple(found[:limit])
        more = len(found) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)
