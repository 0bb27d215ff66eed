"""The JSON bodies we send to Mercado Pago, built from the core's requests.

Only fields with a value are sent: Mercado Pago validates what it receives, and a ``null`` where
it expects a string is an error rather than "not given". Amounts stay ``Decimal`` here;
:func:`adapters_platforms.mercadopago.wire.dumps` writes them as exact JSON numbers.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from integration_core.credentials import Secret
from integration_core.errors import InvalidInput
from integration_core.payments import CardPaymentRequest, CheckoutItem, CheckoutRequest


@attrs.frozen(kw_only=True)
class BackUrls:
    """Where Checkout Pro sends the buyer back to, per outcome.

    *auto_return* sends an approved buyer back on their own (Mercado Pago then requires
    *success*).
    """

    success: str | None = None
    pending: str | None = None
    failure: str | None = None
    auto_return: bool = False


def _present(**fields: object) -> dict[str, object]:
    return {name: value for name, value in fields.items() if value is not None}


def _positive(value: Decimal, what: str) -> Decimal:
    # Caught here, before a request that Mercado Pago would refuse anyway (or, for NaN, that
    # could not even be written as JSON).
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"{what} must be a positive amount, not {value}")
    return value


def _item(item: CheckoutItem) -> dict[str, object]:
    return _present(
        id=item.id,
        title=item.title,
        description=item.description,
        quantity=item.quantity,
        unit_price=_positive(item.unit_price, "unit_price"),
        currency_id=item.currency,
    )


def preference(request: CheckoutRequest, *, back_urls: BackUrls | None) -> dict[str, object]:
    """Return the ``POST /checkout/preferences`` body for *request*.

    A request without items is sold as one item: its description at its amount.
    """
    items = [_item(item) for item in request.items] or [
        {
            "title": request.description,
            "quantity": 1,
            "unit_price": _positive(request.amount, "amount"),
            "currency_id": request.currency,
        }
    ]
    body = _present(
        items=items,
        payer=None if request.payer_email is None else {"email": request.payer_email},
        external_reference=request.external_reference,
        notification_url=request.notification_url,
    )
    if back_urls is not None:
        urls = _present(
            success=back_urls.success, pending=back_urls.pending, failure=back_urls.failure
        )
        if urls:
            body["back_urls"] = urls
        if back_urls.auto_return and back_urls.success is not None:
            body["auto_return"] = "approved"
    return body


def card_payment(request: CardPaymentRequest) -> dict[str, object]:
    """Return the ``POST /v1/payments`` body for *request*.

    There is no currency field: Mercado Pago charges in the currency of the seller's country.
    """
    return _present(
        transaction_amount=_positive(request.amount, "amount"),
        token=request.card_token,
        description=request.description,
        installments=request.installments,
        payment_method_id=request.payment_method_id,
        payer=None if request.payer_email is None else {"email": request.payer_email},
        external_reference=request.external_reference,
        notification_url=request.notification_url,
    )


def refund(amount: Decimal | None) -> dict[str, object] | None:
    """Return the ``POST /v1/payments/{id}/refunds`` body: none refunds everything that is left."""
    if amount is None:
        return None
    return {"amount": _positive(amount, "the refund amount")}


def oauth_refresh(
    *, client_id: str, client_secret: Secret, refresh_token: Secret
) -> dict[str, object]:
    """Return the ``POST /oauth/token`` body that trades *refresh_token* for new tokens."""
    return {
        "client_id": client_id,
        "client_secret": client_secret.reveal(),
        "grant_type": "refresh_token",
        "refresh_token": refresh_token.reveal(),
    }
