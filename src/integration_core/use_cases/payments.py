"""Payments through the provider (Mercado Pago): create, read, refund (CONTRACT 5).

Idempotency keys sent to the provider are derived, never random per attempt (PLATFORMS.md 4.5
gotcha 10): a caller's ``Idempotency-Key`` becomes ``sha256("<tenant>:<key>")``, otherwise our own
payment id. A payment is stored ``pending`` before the provider is called, so a crash in between
leaves a record. Provider notifications are applied by
:class:`~integration_core.use_cases.payment_updates.ApplyProviderUpdate`, refunds by
:class:`~integration_core.use_cases.payment_refunds.RefundPayment`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import attrs

from integration_core.credentials import Secret
from integration_core.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from integration_core.ids import TenantId, new_id
from integration_core.payments import (
    CardPaymentRequest,
    CheckoutItem,
    CheckoutRequest,
    Payment,
)
from integration_core.ports import Clock, PaymentGateway, PaymentStore

_CENT = Decimal("0.01")
MAX_AMOUNT_DIGITS = 26
"""Digits before the decimal point an amount may have: a Decimal holds 28 with the two cents."""
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def parse_amount(value: Decimal | str | int, *, field: str = "amount") -> Decimal:
    """Return *value* as a positive Decimal with two decimals; :class:`InvalidInput` otherwise.

    Floats are refused (they cannot hold ``0.10`` exactly); strings like ``"150.00"`` are the
    wire form.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise InvalidInput(f"{field} must be a decimal string like '150.00'")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{field} must be a decimal string like '150.00'") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(f"{field} must be greater than zero")
    try:
        cents = amount.quantize(_CENT)
    except InvalidOperation:  # more digits than the context's 28 once given two decimals
        raise InvalidInput(
            f"{field} must have at most {MAX_AMOUNT_DIGITS} digits before the decimal point"
        ) from None
    if amount != cents:
        raise InvalidInput(f"{field} must have at most two decimals")
    return cents


def derived_key(tenant_id: TenantId, key: str) -> str:
    """Return the provider idempotency key for a caller's key: sha256 hex of tenant and key."""
    return hashlib.sha256(f"{tenant_id}:{key}".encode()).hexdigest()


def payment_id_for(tenant_id: TenantId, idempotency_key: str) -> str:
    """Return the payment id a caller's *idempotency_key* fixes (what a repeat finds)."""
    return derived_id("pay", derived_key(tenant_id, idempotency_key))


def derived_id(prefix: str, digest: str) -> str:
    """Return a ``<prefix>_<26 chars>`` id fixed by *digest*, so a retry finds the first record."""
    value = int(digest, 16) >> (256 - 130)
    chars = [_ID_ALPHABET[(value >> (5 * i)) & 31] for i in range(25, -1, -1)]
    return f"{prefix}_{''.join(chars)}"


@attrs.frozen(kw_only=True)
class CardInput:
    """A tokenized card (the token comes from the provider's browser SDK)."""

    token: str = attrs.field(repr=False)
    payment_method_id: str
    installments: int = 1


@attrs.frozen(kw_only=True)
class NewPayment:
    """What a tenant asks :class:`CreatePayment` for (the body of ``POST /payments``)."""

    tenant_id: TenantId
    amount: Decimal | str | int
    currency: str
    description: str
    external_reference: str | None = None
    payer_email: str | None = None
    items: tuple[CheckoutItem, ...] = ()
    card: CardInput | None = None
    idempotency_key: str | None = None


class CreatePayment:
    """Open a Checkout Pro preference, or charge a card directly when one is given.

    With an idempotency key our payment id is derived from it too, so a retry returns the first
    payment (the same key with a different body is :class:`IdempotencyKeyReused`); such ids do
    not sort by creation time. The provider's ``external_reference`` is always our payment id, so a
    notification can be linked to the payment; the caller's reference stays in our record.
    """

    def __init__(
        self,
        *,
        payments: PaymentStore,
        gateway: PaymentGateway,
        clock: Clock,
        notification_url: str | None = None,
    ) -> None:
        self._payments = payments
        self._gateway = gateway
        self._clock = clock
        self._notification_url = notification_url

    async def __call__(self, new: NewPayment, *, access_token: Secret | None = None) -> Payment:
        """Create the payment; :class:`InvalidInput`, :class:`Conflict` or provider errors."""
        payment, _ = await self.create(new, access_token=access_token)
        return payment

    async def create(
        self, new: NewPayment, *, access_token: Secret | None = None, retried: bool = False
    ) -> tuple[Payment, bool]:
        """Create the payment; also tell whether it is new (``False``: a finished repeat)."""
        amount = parse_amount(new.amount)
        currency = _check(new)
        key = derived_key(new.tenant_id, new.idempotency_key) if new.idempotency_key else None
        payment_id = derived_id("pay", key) if key else new_id("pay")
        existing = await self._existing(new.tenant_id, payment_id) if key else None
        if existing is not None:
            if (existing.amount, existing.currency, existing.description) != (
                amount,
                currency,
                new.description,
            ):
                raise IdempotencyKeyReused("this Idempotency-Key was used for a different payment")
            if existing.preference_id or existing.provider_payment_id:
                return existing, False
            payment = existing  # stored, but the provider call did not finish: redo it
        else:
            now = self._clock.now()
            payment = Payment(
                id=payment_id,
                tenant_id=new.tenant_id,
                amount=amount,
                currency=currency,
                description=new.description,
                external_reference=new.external_reference or payment_id,
                created_at=now,
                updated_at=now,
            )
            try:
                await self._payments.add(payment)
            except Conflict:
                if key is None or retried:
                    raise
                # The same key at the same moment from another request: answer as a repeat.
                return await self.create(new, access_token=access_token, retried=True)
        gateway_key = key or payment.id
        if new.card is None:
            return await self._checkout(payment, new, gateway_key, access_token), True
        return await self._charge(payment, new, new.card, gateway_key, access_token), True

    async def _existing(self, tenant_id: TenantId, payment_id: str) -> Payment | None:
        try:
            return await self._payments.get(tenant_id, payment_id)
        except NotFound:
            return None

    async def _checkout(
        self, payment: Payment, new: NewPayment, key: str, token: Secret | None
    ) -> Payment:
        request = CheckoutRequest(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            description=new.description,
            items=new.items,
            payer_email=new.payer_email,
            # Our id, whatever the caller's reference: notifications link by it.
            external_reference=payment.id,
            notification_url=self._notification_url,
        )
        checkout = await self._gateway.create_checkout(
            request, idempotency_key=key, access_token=token
        )
        now = self._clock.now()
        await self._payments.set_checkout(
            payment.tenant_id,
            payment.id,
            preference_id=checkout.preference_id,
            checkout_url=checkout.checkout_url,
            at=now,
        )
        return await self._payments.get(payment.tenant_id, payment.id)

    async def _charge(
        self, payment: Payment, new: NewPayment, card: CardInput, key: str, token: Secret | None
    ) -> Payment:
        request = CardPaymentRequest(
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            description=new.description,
            card_token=card.token,
            payment_method_id=card.payment_method_id,
            installments=card.installments,
            payer_email=new.payer_email,
            # Our id, whatever the caller's reference: notifications link by it.
            external_reference=payment.id,
            notification_url=self._notification_url,
        )
        seen = await self._gateway.create_payment(request, idempotency_key=key, access_token=token)
        done = attrs.evolve(
            payment,
            provider_payment_id=seen.provider_payment_id,
            status=seen.status,
            status_detail=seen.status_detail,
            provider_updated_at=seen.last_updated_at,
        )
        # Only from the state stored before the call: a notification that linked the payment
        # meanwhile holds the provider's newer word, and is kept.
        await self._payments.change_state(
            payment.tenant_id,
            payment.id,
            expected=payment.state,
            new=done.state,
            at=self._clock.now(),
        )
        return await self._payments.get(payment.tenant_id, payment.id)


def _check(new: NewPayment) -> str:
    """Validate everything but the amount; return the currency in upper case."""
    problems: list[str] = []
    currency = new.currency.strip().upper()
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        problems.append("currency must be a 3-letter code")
    if not new.description.strip():
        problems.append("description must not be empty")
    if new.idempotency_key is not None and not new.idempotency_key.strip():
        problems.append("idempotency_key must not be empty")
    if new.card is not None and (new.card.installments < 1 or not new.card.token):
        problems.append("card needs a token and at least one installment")
    problems.extend(_item_problems(new.items, new.amount, currency))
    if problems:
        raise InvalidInput("; ".join(problems), problems=tuple(problems))
    return currency


def _item_problems(
    items: Sequence[CheckoutItem], amount: Decimal | str | int, currency: str
) -> list[str]:
    if not items:
        return []
    if any(i.quantity < 1 or i.unit_price <= 0 or i.currency.upper() != currency for i in items):
        return ["items need a positive quantity and price in the payment's currency"]
    total = sum((i.unit_price * i.quantity for i in items), Decimal("0"))
    if total != parse_amount(amount):
        return [f"items add up to {total}, not the amount"]
    return []


class GetPayment:
    """Return a tenant's payment by our id or the provider's."""

    def __init__(self, *, payments: PaymentStore) -> None:
        self._payments = payments

    async def __call__(self, tenant_id: TenantId, payment_id: str) -> Payment:
        """Return the payment; :class:`NotFound` if absent or another tenant's."""
        return await self._payments.get(tenant_id, payment_id)
