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


REFUND_PENDING = "awaiting_provider"
"""Our status of a refund reserved before the provider was asked: not money given back yet.

None of Mercado Pago's refund statuses (``approved``, ``in_process``, ``rejected``,
``cancelled``, ``authorized``, ...), so a provider's status is never mistaken for it.
"""
_NOT_REFUNDED = frozenset({"rejected", "cancelled", REFUND_PENDING})


@attrs.frozen(kw_only=True)
class Refund:
    """Money given back on a payment, whole or in part.

    A refund is stored ``pending`` with its *provider_key* (the idempotency key sent to the
    provider) before the provider is called, so a retry sends the same key and can never refund
    twice; the provider's answer then completes it.
    """

    id: str
    amount: Decimal
    status: str
    provider_refund_id: str | None = None
    provider_key: str | None = None
    created_at: datetime

    @property
    def pending(self) -> bool:
        """Tell whether the provider's answer is still awaited."""
        return self.status == REFUND_PENDING


@attrs.frozen(kw_only=True)
class PaymentState:
    """The fields the provider's view of a payment decides, written together or not at all.

    The payment store changes them only from an expected state (compare-and-set), so of two
    concurrent writers the one that read a stale state fails and reads again.
    """

    provider_payment_id: str | None
    status: str
    status_detail: str | None
    provider_updated_at: datetime | None


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
    def state(self) -> PaymentState:
        """Return the fields the provider decides (see :class:`PaymentState`)."""
        return PaymentState(
            provider_payment_id=self.provider_payment_id,
            status=self.status,
            status_detail=self.status_detail,
            provider_updated_at=self.provider_updated_at,
        )

    @property
    def refunded_amount(self) -> Decimal:
        """Return the sum of refunds the provider made (not rejected, not still pending)."""
        return sum((r.amount for r in self.refunds if r.status not in _NOT_REFUNDED), Decimal("0"))

    @property
    def reserved_amount(self) -> Decimal:
        """Return the sum of refunds still awaiting the provider's answer."""
        return sum((r.amount for r in self.refunds if r.pending), Decimal("0"))

    @property
    def settled_refunds(self) -> tuple[Refund, ...]:
        """Return the refunds the provider answered (what the API shows)."""
        return tuple(r for r in self.refunds if not r.pending)

    @property
    def refundable_amount(self) -> Decimal:
        """Return what is left to refund: neither refunded nor reserved by a pending refund."""
        return self.amount - self.refunded_amount - self.reserved_amount

    def refund(self, refund_id: str) -> Refund | None:
        """Return the refund with our id *refund_id*, or ``None``."""
        return next((r for r in self.refunds if r.id == refund_id), None)

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
class ProviderRequest:
    """What the provider needs for any payment we open there, by checkout or by card."""

    payment_id: str
    amount: Decimal
    currency: str
    description: str
    payer_email: str | None = None
    external_reference: str | None = None
    notification_url: str | None = None


@attrs.frozen(kw_only=True)
class CheckoutRequest(ProviderRequest):
    """What the provider needs to open a hosted checkout (a Checkout Pro preference)."""

    items: tuple[CheckoutItem, ...] = ()


@attrs.frozen(kw_only=True)
class CardPaymentRequest(ProviderRequest):
    """What the provider needs to charge a tokenized card directly."""

    card_token: str = attrs.field(repr=False)
    payment_method_id: str
    installments: int = 1


@attrs.frozen(kw_only=True)
class Checkout:
    """A hosted checkout the buyer is sent to."""

    preference_id: str
    checkout_url: str


@attrs.frozen(kw_only=True)
class ProviderPayment:
    """The provider's view of a payment: the source of truth for its status and refunds.

    *last_updated_at* (Mercado Pago's ``date_last_updated``) orders two views of one payment,
    so a change that keeps the status's rank is applied only from the newer one. *refunds* is
    ``None`` when the view did not list them (an answer to a create).
    """

    provider_payment_id: str
    status: str
    status_detail: str | None
    amount: Decimal
    currency: str
    external_reference: str | None = None
    collector_id: str | None = None
    last_updated_at: datetime | None = None
    refunds: tuple[ProviderRefund, ...] | None = None


@attrs.frozen(kw_only=True)
class ProviderRefund:
    """The provider's view of a refund."""

    provider_refund_id: str
    amount: Decimal
    status: str
