"""Refunds of paid payments (``POST /api/v1/payments/{id}/refund``, CONTRACT 5)."""

from __future__ import annotations

from decimal import Decimal

from integration_core.credentials import Secret
from integration_core.errors import Conflict, IdempotencyKeyReused
from integration_core.ids import TenantId, new_id
from integration_core.payments import Payment, Refund
from integration_core.ports import Clock, EventStore, PaymentGateway, PaymentStore
from integration_core.use_cases.payment_updates import advance, payment_updated_event
from integration_core.use_cases.payments import derived_id, derived_key, parse_amount


def refund_id_for(tenant_id: TenantId, payment_id: str, idempotency_key: str) -> str:
    """Return the refund id a caller's *idempotency_key* fixes on our payment *payment_id*."""
    return derived_id("ref", derived_key(tenant_id, f"refund:{payment_id}:{idempotency_key}"))


class RefundPayment:
    """Refund all or part of a paid payment.

    The balance is checked before the provider is called (:class:`RefundExceedsBalance`). The
    provider key is the caller's key (derived per tenant) or ``<payment id>:refund:<n>``, so a
    retry after a crash does not refund twice. The payment's status comes from a re-fetch of the
    provider payment; a status change queues ``payment.updated`` (the later notification then finds
    nothing new).
    """

    def __init__(
        self,
        *,
        payments: PaymentStore,
        gateway: PaymentGateway,
        events: EventStore,
        clock: Clock,
    ) -> None:
        self._payments = payments
        self._gateway = gateway
        self._events = events
        self._clock = clock

    async def __call__(
        self,
        tenant_id: TenantId,
        payment_id: str,
        amount: Decimal | str | None = None,
        *,
        idempotency_key: str | None = None,
        access_token: Secret | None = None,
    ) -> tuple[Payment, Refund]:
        """Refund *amount* (``None``: what is left); return the payment and the refund."""
        payment = await self._payments.get(tenant_id, payment_id)
        refund_id = None
        if idempotency_key:
            key = derived_key(tenant_id, f"refund:{payment.id}:{idempotency_key}")
            refund_id = refund_id_for(tenant_id, payment.id, idempotency_key)
            if (done := next((r for r in payment.refunds if r.id == refund_id), None)) is not None:
                if amount is not None and parse_amount(amount) != done.amount:
                    raise IdempotencyKeyReused("this Idempotency-Key was used for another refund")
                return payment, done
        else:
            key = f"{payment.id}:refund:{len(payment.refunds) + 1}"
        wanted = payment.check_refund(None if amount is None else parse_amount(amount))
        if payment.provider_payment_id is None or payment.status != "approved":
            raise Conflict(f"payment {payment.id} is {payment.status}, not approved")
        seen = await self._gateway.refund(
            payment.provider_payment_id,
            None if amount is None else wanted,
            idempotency_key=key,
            access_token=access_token,
        )
        now = self._clock.now()
        same = next(
            (r for r in payment.refunds if r.provider_refund_id == seen.provider_refund_id), None
        )
        refund = Refund(
            id=same.id if same else refund_id or new_id("ref"),
            amount=seen.amount,
            status=seen.status,
            provider_refund_id=seen.provider_refund_id,
            created_at=same.created_at if same else now,
        )
        payment = payment.with_refund(refund, at=now)
        current = await self._gateway.get_payment(
            payment.provider_payment_id or "", access_token=access_token
        )
        moved = advance(payment, current, at=now)
        # The event before the update, as in ApplyProviderUpdate: a retry after a failure in
        # between finds the change still to make, and the event's dedupe key keeps it single.
        if moved is not None:
            await self._events.record(None, [payment_updated_event(moved, at=now)])
        await self._payments.update(moved or payment)
        return moved or payment, refund
