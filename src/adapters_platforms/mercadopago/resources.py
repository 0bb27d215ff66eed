"""Read Mercado Pago's answers into the core's values, liberally.

Mercado Pago adds fields freely and writes ids as numbers (payments, refunds, orders) or strings
(preferences): only the fields we use are read, ids become strings, and amounts are read exactly
(see :mod:`adapters_platforms.mercadopago.wire`). A field we cannot do without is a
:class:`PlatformError`, since the answer cannot be trusted then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from adapters_platforms.mercadopago import wire
from integration_core.channels import RefreshedToken
from integration_core.credentials import Secret
from integration_core.errors import PlatformError
from integration_core.payments import Checkout, ProviderPayment, ProviderRefund
from integration_core.serialization import parse_datetime

Document = Mapping[str, object]


@attrs.frozen(kw_only=True)
class MerchantOrderPayment:
    """One payment of a merchant order, as the order lists it."""

    id: str
    status: str | None
    status_detail: str | None
    amount: Decimal | None


@attrs.frozen(kw_only=True)
class MerchantOrder:
    """A Checkout Pro order: the payments a buyer made against one preference.

    Paid when the approved payments cover *total_amount*; for QR payments ``closed`` certifies it.
    """

    id: str
    status: str
    order_status: str | None
    preference_id: str | None
    external_reference: str | None
    total_amount: Decimal | None
    paid_amount: Decimal | None
    refunded_amount: Decimal | None
    payments: tuple[MerchantOrderPayment, ...] = ()

    @property
    def approved_amount(self) -> Decimal:
        """Return the sum of the order's approved payments."""
        return sum(
            (p.amount for p in self.payments if p.status == "approved" and p.amount is not None),
            Decimal("0"),
        )


@attrs.frozen(kw_only=True)
class SellerProfile:
    """The Mercado Pago account behind a token: its user (collector) id and names."""

    user_id: str
    nickname: str | None = None
    site_id: str | None = None


def seller_profile(value: object) -> SellerProfile:
    """Return the account ``GET /users/me`` describes."""
    doc = document(value, "a user")
    return SellerProfile(
        user_id=_required(doc, "id", "a user"),
        nickname=_optional(doc, "nickname"),
        site_id=_optional(doc, "site_id"),
    )


def document(value: object, what: str) -> Document:
    """Return *value* as a JSON object, or raise :class:`PlatformError`."""
    if not isinstance(value, Mapping):
        raise PlatformError(f"Mercado Pago answered {what} with something that is not an object")
    return value


def _required(doc: Document, field: str, what: str) -> str:
    value = _optional(doc, field)
    if value is None:
        raise PlatformError(f"Mercado Pago answered {what} without {field}")
    return value


def _optional(doc: Document, field: str) -> str | None:
    value = doc.get(field)
    if value is None or value == "" or isinstance(value, Mapping | list | bool):
        return None
    return str(value)


def _optional_amount(doc: Document, field: str) -> Decimal | None:
    value = doc.get(field)
    return None if value is None else wire.amount(value, field)


def _optional_moment(doc: Document, field: str) -> datetime | None:
    """Read a timestamp (``2026-11-29T10:15:30.000-04:00``); a missing or odd one is ``None``.

    It only orders two views of a payment, so an unreadable one costs an ordering, not the answer.
    """
    value = _optional(doc, field)
    try:
        return None if value is None else parse_datetime(value)
    except ValueError:
        return None


def checkout(value: object, *, sandbox: bool) -> Checkout:
    """Return the checkout of a preference; in *sandbox* its test-mode URL where there is one."""
    doc = document(value, "a preference")
    url = _optional(doc, "sandbox_init_point") if sandbox else None
    return Checkout(
        preference_id=_required(doc, "id", "a preference"),
        checkout_url=url or _required(doc, "init_point", "a preference"),
    )


def provider_payment(value: object, *, currency: str | None = None) -> ProviderPayment:
    """Return a payment; *currency* stands in should Mercado Pago leave ``currency_id`` out."""
    doc = document(value, "a payment")
    listed = doc.get("refunds")
    return ProviderPayment(
        provider_payment_id=_required(doc, "id", "a payment"),
        status=_required(doc, "status", "a payment"),
        status_detail=_optional(doc, "status_detail"),
        amount=wire.amount(doc.get("transaction_amount"), "transaction_amount"),
        currency=_optional(doc, "currency_id") or currency or "",
        external_reference=_optional(doc, "external_reference"),
        collector_id=_optional(doc, "collector_id"),
        last_updated_at=_optional_moment(doc, "date_last_updated"),
        # The payment lists its refunds: what notifications reconcile ours with.
        refunds=(
            tuple(provider_refund(item) for item in listed if isinstance(item, Mapping))
            if isinstance(listed, list)
            else None
        ),
    )


def provider_refund(value: object) -> ProviderRefund:
    """Return a refund."""
    doc = document(value, "a refund")
    return ProviderRefund(
        provider_refund_id=_required(doc, "id", "a refund"),
        amount=wire.amount(doc.get("amount"), "amount"),
        status=_required(doc, "status", "a refund"),
    )


def merchant_order(value: object) -> MerchantOrder:
    """Return a merchant order with the payments it lists."""
    doc = document(value, "a merchant order")
    listed = doc.get("payments")
    payments = tuple(
        MerchantOrderPayment(
            id=_required(item, "id", "a merchant order payment"),
            status=_optional(item, "status"),
            status_detail=_optional(item, "status_detail"),
            amount=_optional_amount(item, "transaction_amount"),
        )
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, Mapping)
    )
    return MerchantOrder(
        id=_required(doc, "id", "a merchant order"),
        status=_required(doc, "status", "a merchant order"),
        order_status=_optional(doc, "order_status"),
        preference_id=_optional(doc, "preference_id"),
        external_reference=_optional(doc, "external_reference"),
        total_amount=_optional_amount(doc, "total_amount"),
        paid_amount=_optional_amount(doc, "paid_amount"),
        refunded_amount=_optional_amount(doc, "refunded_amount"),
        payments=payments,
    )


def refreshed_token(value: object, *, now: datetime) -> RefreshedToken:
    """Return the tokens an OAuth refresh issued; ``expires_in`` (seconds) dates the new one."""
    doc = document(value, "an OAuth refresh")
    expires_in = doc.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | Decimal) and not isinstance(expires_in, bool):
        expires_at = now + timedelta(seconds=float(expires_in))
    refresh = _optional(doc, "refresh_token")
    return RefreshedToken(
        access_token=Secret(_required(doc, "access_token", "an OAuth refresh")),
        expires_at=expires_at,
        refresh_token=None if refresh is None else Secret(refresh),
    )
