"""The in-memory payment store, with the same behaviour as :mod:`adapters_db.payments`.

``tests/contract`` runs one suite over it and over SQLite and PostgreSQL; set
``available = False`` to play a database outage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from integration_core.errors import Conflict, NotFound
from integration_core.ids import TenantId, new_id
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.payments import Payment, PaymentState, ProviderRefund, Refund
from integration_core.testing._outage import OutageSwitch


class InMemoryPaymentStore(OutageSwitch):
    """Keep payments (with their refunds) in a dict."""

    def __init__(self) -> None:
        self._items: dict[str, Payment] = {}

    async def add(self, payment: Payment) -> None:
        """See :meth:`PaymentStore.add`."""
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
        """See :meth:`PaymentStore.get`."""
        self._check()
        found = self._items.get(payment_id) or next(
            (p for p in self._items.values() if p.provider_payment_id == payment_id), None
        )
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"payment {payment_id} was not found")
        return found

    async def find_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        """See :meth:`PaymentStore.find_by_provider_id`."""
        self._check()
        return next(
            (p for p in self._items.values() if p.provider_payment_id == provider_payment_id),
            None,
        )

    async def find(self, payment_id: str) -> Payment | None:
        """See :meth:`PaymentStore.find`."""
        self._check()
        return self._items.get(payment_id)

    async def update(self, payment: Payment) -> None:
        """See :meth:`PaymentStore.update`."""
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
        """See :meth:`PaymentStore.set_checkout`."""
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
        """See :meth:`PaymentStore.change_state`."""
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
        """See :meth:`PaymentStore.reserve_refund`."""
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
        """See :meth:`PaymentStore.settle_refund`."""
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
        """See :meth:`PaymentStore.release_refund`."""
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
        """See :meth:`PaymentStore.record_refunds`."""
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
        """See :meth:`PaymentStore.list`."""
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
