"""Refunds of paid payments (``POST /api/v1/payments/{id}/refund``, CONTRACT 5)."""

from __future__ import annotations

from decimal import Decimal

import attrs

from integration_core.credentials import Secret
from integration_core.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PlatformError,
)
from integration_core.ids import TenantId, new_id
from integration_core.payments import REFUND_PENDING, Payment, Refund
from integration_core.ports import Clock, EventStore, PaymentGateway, PaymentStore
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.payments import derived_id, derived_key, parse_amount

# The provider refused the refund itself: nothing was refunded, the reservation goes. Anything
# else (a timeout, a 5xx, a crash) may have refunded: the pending refund and its key stay.
_REFUSED = (InvalidInput, NotFound, InvalidCredentials)


def refund_id_for(tenant_id: TenantId, payment_id: str, idempotency_key: str) -> str:
    """Return the refund id a caller's *idempotency_key* fixes on our payment *payment_id*."""
    return derived_id("ref", derived_key(tenant_id, f"refund:{payment_id}:{idempotency_key}"))


@attrs.frozen(kw_only=True)
class RefundResult:
    """The payment after the refund, the refund, and whether this call made it (``201``)."""

    payment: Payment
    refund: Refund
    created: bool


class RefundPayment:
    """Refund all or part of a paid payment.

    The refund is reserved first: stored ``pending`` with the provider key it will be sent with,
    in one step with the balance check (:class:`RefundExceedsBalance`), so concurrent refunds
    never exceed the payment and never overwrite each other. The provider key is the caller's
    key derived per tenant, or ``<payment id>:refund:<refund id>`` fixed before the call (never
    a count, which a lost or concurrent refund would make repeat). A retry with the same
    ``Idempotency-Key`` finds the pending refund and resends its key, so the provider refunds
    once. The answer completes the refund; the payment's status then comes from a re-fetch of
    the provider payment, applied like a notification (a change queues ``payment.updated``).
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
        self._clock = clock
        self._apply = ApplyProviderUpdate(
            payments=payments, gateway=gateway, events=events, clock=clock
        )

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
        done = await self.refund(
            tenant_id,
            payment_id,
            amount,
            idempotency_key=idempotency_key,
            access_token=access_token,
        )
        return done.payment, done.refund

    async def refund(
        self,
        tenant_id: TenantId,
        payment_id: str,
        amount: Decimal | str | None = None,
        *,
        idempotency_key: str | None = None,
        access_token: Secret | None = None,
    ) -> RefundResult:
        """Refund *amount*; also tell whether the refund is new (``False``: a finished repeat)."""
        payment = await self._payments.get(tenant_id, payment_id)
        wanted_amount = None if amount is None else parse_amount(amount)
        if idempotency_key:
            refund_id = refund_id_for(tenant_id, payment.id, idempotency_key)
            provider_key = derived_key(tenant_id, f"refund:{payment.id}:{idempotency_key}")
        else:
            refund_id = new_id("ref")
            provider_key = f"{payment.id}:refund:{refund_id}"
        held = payment.refund(refund_id)
        if held is None:
            wanted = payment.check_refund(wanted_amount)
            if payment.provider_payment_id is None or payment.status != "approved":
                raise Conflict(f"payment {payment.id} is {payment.status}, not approved")
            pending = Refund(
                id=refund_id,
                amount=wanted,
                status=REFUND_PENDING,
                provider_key=provider_key,
                created_at=self._clock.now(),
            )
            payment = await self._payments.reserve_refund(tenant_id, payment.id, pending)
            held = payment.refund(refund_id)
            if held == pending:
                return await self._send(payment, pending, wanted_amount, access_token)
            # A concurrent request with the same key reserved it first: a repeat of that one.
        assert held is not None, "reserve_refund returns the payment holding the refund"
        return await self._resume(payment, held, wanted_amount, access_token)

    async def _resume(
        self,
        payment: Payment,
        held: Refund,
        wanted_amount: Decimal | None,
        access_token: Secret | None,
    ) -> RefundResult:
        """Answer a repeat of a refund already stored: done, or still pending (send it again)."""
        if wanted_amount is not None and wanted_amount != held.amount:
            raise IdempotencyKeyReused("this Idempotency-Key was used for another refund")
        if not held.pending:
            return RefundResult(payment=payment, refund=held, created=False)
        # The first attempt's answer never came back: the same key, so at most one refund.
        return await self._send(payment, held, held.amount, access_token)

    async def _send(
        self,
        payment: Payment,
        pending: Refund,
        wanted_amount: Decimal | None,
        access_token: Secret | None,
    ) -> RefundResult:
        provider_id = payment.provider_payment_id or ""
        try:
            seen = await self._gateway.refund(
                provider_id,
                wanted_amount,
                idempotency_key=pending.provider_key or "",
                access_token=access_token,
            )
        except _REFUSED:
            await self._payments.release_refund(payment.tenant_id, payment.id, pending.id)
            raise
        refund = await self._payments.settle_refund(
            payment.tenant_id, payment.id, pending.id, seen, at=self._clock.now()
        )
        try:
            current = await self._gateway.get_payment(provider_id, access_token=access_token)
        except (PlatformError, *_REFUSED):
            # The refund is made and stored; its notification brings the status. Failing the
            # request now would invite a client without a key to refund again.
            pass
        else:
            await self._apply.apply_view(current, tenant_id=payment.tenant_id)
        settled = await self._payments.get(payment.tenant_id, payment.id)
        return RefundResult(payment=settled, refund=refund, created=True)
