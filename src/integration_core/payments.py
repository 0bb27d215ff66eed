"""Payments and refunds taken through a payment provider (Mercado Pago).

Amounts are :class:`~decimal.Decimal`, never floats; ``status`` and ``status_detail`` are the
provider's own values (``pending`` until the buyer pays).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from integration_core.errors import RefundExceedsBalance
from integration_core.ids import TenantId

PROVIDER_MERCADOPAGO = "mercadopago"


@attrs.frozen(kw_only=True)
class Refund:
    """Money given back on a payment, whole or in part."""

    id: str
    amount: Decimal
    status: str
    provider_refund_id: str | None = None
    created_at: datetime


@attrs.frozen(kw_only=True)
class Payment:
    """A tenant's payment: a Checkout Pro preference, a card payment, or both over time."""

    id: str
    tenant_id: TenantId
    provider: str = PROVIDER_MERCADOPAGO
    provider_payment_id: str | None = None
    preference_id: str | None = None
    checkout_url: str | None = None
    status: str = "pending"
    status_detail: str | None = None
    amount: Decimal
    currency: str
    description: str | None = None
    external_reference: str | None = None
    refunds: tuple[Refund, ...] = ()
    provider_updated_at: datetime | None = None
    """When the provider last changed the state we hold (its ``date_last_updated``)."""
    created_at: datetime
    updated_at: datetime

    @property
    def refunded_amount(self) -> Decimal:
        """Return the sum of refunds that were not rejected."""
        return sum(
            (r.amount for r in self.refunds if r.status not in {"rejected", "cancelled"}),
            Decimal("0"),
        )

    @property
    def refundable_amount(self) -> Decimal:
        """Return what is left to refund."""
        return self.amount - self.refunded_amount

    def check_refund(self, amount: Decimal | None) -> Decimal:
        """Return the amount a refund of *amount* (``None``: the rest) would give back.

        Raises :class:`RefundExceedsBalance` before anything is sent to the provider.
        """
        left = self.refundable_amount
        wanted = left if amount is None else amount
        if wanted <= 0 or wanted > left:
            raise RefundExceedsBalance(f"a refund of {wanted} exceeds the {left} left to refund")
        return wanted

    def with_refund(self, refund: Refund, *, at: datetime) -> Payment:
        """Return this payment with *refund* added (or replaced, matched by id)."""
        others = tuple(r for r in self.refunds if r.id != refund.id)
        return attrs.evolve(self, refunds=(*others, refund), updated_at=at)


@attrs.frozen(kw_only=True)
class CheckoutItem:
    """One line of a Checkout Pro preference."""

    title: str
    quantity: int = 1
    unit_price: Decimal
    currency: str
    id: str | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class CheckoutRequest:
    """What the provider needs to open a hosted checkout (a Checkout Pro preference)."""

    payment_id: str
    amount: Decimal
    currency: str
    description: str
    items: tuple[CheckoutItem, ...] = ()
    payer_email: str | None = None
    external_reference: str | None = None
    notification_url: str | None = None


@attrs.frozen(kw_only=True)
class CardPaymentRequest:
    """What the provider needs to charge a tokenized card directly."""

    payment_id: str
    amount: Decimal
    currency: str
    description: str
    card_token: str = attrs.field(repr=False)
    payment_method_id: str
    installments: int = 1
    payer_email: str | None = None
    external_reference: str | None = None
    notification_url: str | None = None


@attrs.frozen(kw_only=True)
class Checkout:
    """A hosted checkout the buyer is sent to."""

    preference_id: str
    checkout_url: str


@attrs.frozen(kw_only=True)
class ProviderPayment:
    """The provider's view of a payment: the source of truth for its status.

    *last_updated_at* (Mercado Pago's ``date_last_updated``) orders two views of one payment,
    so a change that keeps the status's rank is applied only from the newer one.
    """

    provider_payment_id: str
    status: str
    status_detail: str | None
    amount: Decimal
    currency: str
    external_reference: str | None = None
    collector_id: str | None = None
    last_updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ProviderRefund:
    """The provider's view of a refund."""

    provider_refund_id: str
    amount: Decimal
    status: str
