"""The payments API (CONTRACT 5) and the Mercado Pago notification endpoint (CONTRACT 4).

Amounts travel as decimal strings (``"150.00"``), never JSON numbers, so no float ever touches
money. A create or refund with an ``Idempotency-Key`` answers ``201`` the first time and ``200``
with the same body on a repeat. Every call is scoped by the token's tenant: another tenant's
payment is ``404``. Payments run on the tenant's own Mercado Pago account when it connected one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import attrs
from aiohttp import hdrs, web

from adapters_http.auth import Principal
from adapters_http.body_limit import read_body
from adapters_http.guard import admit
from adapters_http.json_body import read_json
from adapters_http.payment_metrics import PAYMENT_METRICS, PaymentMetrics
from adapters_http.payment_services import PaymentServices
from adapters_http.rate_limit import SCOPE_WEBHOOK
from adapters_http.rate_limit_middleware import enforce_rate_limit
from adapters_http.routing import add_route
from adapters_http.services import SERVICES
from integration_core.errors import InvalidInput
from integration_core.payments import CheckoutItem, Payment, Refund
from integration_core.serialization import format_datetime, make_converter
from integration_core.use_cases.payments import CardInput, NewPayment
from integration_core.webhook_urls import MERCADOPAGO_NOTIFICATIONS
from integration_core.webhooks import WebhookRequest

PAYMENTS_PATH: Final = "/api/v1/payments"
NOTIFICATIONS_PATH: Final = MERCADOPAGO_NOTIFICATIONS
IDEMPOTENCY_KEY: Final = "Idempotency-Key"
_ID: Final = "{id:[A-Za-z0-9_-]+}"
_INPUT: Final = make_converter(forbid_extra_keys=True)
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store"}
_CENT: Final = Decimal("0.01")


@attrs.frozen(kw_only=True)
class PayerBody:
    """``payer`` of a create body."""

    email: str | None = None


@attrs.frozen(kw_only=True)
class ItemBody:
    """One of ``items``: prices are decimal strings like the amount."""

    title: str
    unit_price: Any
    quantity: int = 1
    currency: str | None = None
    id: str | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class CreateBody:
    """``POST /api/v1/payments``: a checkout, or a card charge when ``token`` is given."""

    amount: Any
    currency: str
    description: str
    external_reference: str | None = None
    payer: PayerBody | None = None
    items: list[ItemBody] | None = None
    token: str | None = attrs.field(default=None, repr=False)
    payment_method_id: str | None = None
    installments: int = 1


@attrs.frozen(kw_only=True)
class RefundBody:
    """``POST /api/v1/payments/{id}/refund``: no amount refunds what is left."""

    amount: Any = None


def _decimal_text(value: object, field: str) -> str:
    # A JSON number would have been parsed as a float already: refuse it, ask for text.
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be a decimal string like '150.00'",
            problems=(f"{field} must be a decimal string like '150.00'",),
        )
    return value


def refund_body(refund: Refund, payment_id: str) -> dict[str, object]:
    """Return *refund* as the API shows it."""
    return {
        "id": refund.id,
        "payment_id": payment_id,
        "amount": str(refund.amount),
        "status": refund.status,
        "provider_refund_id": refund.provider_refund_id,
        "created_at": format_datetime(refund.created_at),
    }


def payment_body(payment: Payment) -> dict[str, object]:
    """Return *payment* as the API shows it (CONTRACT 5)."""
    return {
        "id": payment.id,
        "tenant_id": payment.tenant_id,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "preference_id": payment.preference_id,
        "checkout_url": payment.checkout_url,
        "status": payment.status,
        "status_detail": payment.status_detail,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "description": payment.description,
        "refunded_amount": str(payment.refunded_amount.quantize(_CENT)),
        "external_reference": payment.external_reference,
        # A refund still awaiting Mercado Pago's answer is not money given back yet.
        "refunds": [
            {k: v for k, v in refund_body(r, payment.id).items() if k != "payment_id"}
            for r in payment.settled_refunds
        ],
        "created_at": format_datetime(payment.created_at),
        "updated_at": format_datetime(payment.updated_at),
    }


def _services(request: web.Request) -> PaymentServices:
    return request.app[SERVICES].payment_services


def _metrics(request: web.Request) -> PaymentMetrics:
    return request.app[PAYMENT_METRICS]


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and (not key.strip() or len(key) > 255):
        raise InvalidInput(f"{IDEMPOTENCY_KEY} must be 1 to 255 characters")
    return key


def _new_payment(principal: Principal, body: CreateBody, key: str | None) -> NewPayment:
    amount = _decimal_text(body.amount, "amount")
    currency = body.currency.strip().upper()
    items = tuple(
        CheckoutItem(
            title=item.title,
            quantity=item.quantity,
            unit_price=_item_price(item.unit_price),
            currency=(item.currency or currency).strip().upper(),
            id=item.id,
            description=item.description,
        )
        for item in body.items or ()
    )
    card = None
    if body.token is not None:
        if not body.payment_method_id:
            raise InvalidInput("a card payment needs payment_method_id")
        card = CardInput(
            token=body.token,
            payment_method_id=body.payment_method_id,
            installments=body.installments,
        )
    return NewPayment(
        tenant_id=principal.tenant_id,
        amount=amount,
        currency=currency,
        description=body.description,
        external_reference=body.external_reference,
        payer_email=body.payer.email if body.payer else None,
        items=items,
        card=card,
        idempotency_key=key,
    )


def _item_price(value: object) -> Decimal:
    text = _decimal_text(value, "unit_price")
    try:
        return Decimal(text)
    except ArithmeticError:
        raise InvalidInput("unit_price must be a decimal string like '150.00'") from None


async def create_payment(request: web.Request) -> web.Response:
    """Open a Checkout Pro preference (or charge a card); ``201``, or ``200`` on a repeat."""
    principal = await admit(request, "payments:write")
    services = _services(request)
    key = _idempotency_key(request)
    body = await read_json(request, _INPUT, CreateBody)
    new = _new_payment(principal, body, key)
    seller = await services.sellers.for_tenant(principal.tenant_id)
    payment, created = await services.create.create(new, access_token=seller.access_token)
    if created:
        _metrics(request).created.labels(kind="card" if new.card else "checkout").inc()
    return web.json_response(
        payment_body(payment),
        status=201 if created else 200,
        headers={**_NO_STORE, hdrs.LOCATION: f"{PAYMENTS_PATH}/{payment.id}"},
    )


async def show_payment(request: web.Request) -> web.Response:
    """Show one of the tenant's payments, by our id or Mercado Pago's."""
    principal = await admit(request, "payments:read")
    payment = await _services(request).get(principal.tenant_id, request.match_info["id"])
    return web.json_response(payment_body(payment), headers=_NO_STORE)


async def refund_payment(request: web.Request) -> web.Response:
    """Refund all or part of a payment; ``201`` with the refund, ``200`` on a repeat."""
    principal = await admit(request, "payments:write")
    services = _services(request)
    key = _idempotency_key(request)
    raw = await read_body(request)
    body = await read_json(request, _INPUT, RefundBody) if raw.strip() else RefundBody()
    amount = None if body.amount is None else _decimal_text(body.amount, "amount")
    payment = await services.get(principal.tenant_id, request.match_info["id"])
    seller = await services.sellers.for_tenant(principal.tenant_id)
    done = await services.refund.refund(
        principal.tenant_id,
        payment.id,
        amount,
        idempotency_key=key,
        access_token=seller.access_token,
    )
    if not done.created:
        return web.json_response(refund_body(done.refund, payment.id), headers=_NO_STORE)
    _metrics(request).refunds.labels(kind="partial" if amount else "total").inc()
    return web.json_response(refund_body(done.refund, payment.id), status=201, headers=_NO_STORE)


async def receive_notification(request: web.Request) -> web.Response:
    """Verify and store a Mercado Pago notification; ``200`` once it is stored.

    Nothing is fetched here: a worker applies it from Mercado Pago's own view of the payment.
    A legacy IPN is stored once per resource and window (``MP_IPN_WINDOW``), and not at all
    while ``MP_IPN_ENABLED`` is off (still ``200``, so Mercado Pago stops sending it again).
    """
    receive = _services(request).receive_notification
    body = await read_body(request)
    delivery = WebhookRequest(body=body, headers=dict(request.headers), query=dict(request.query))
    metrics = _metrics(request)

    async def admit() -> None:
        await enforce_rate_limit(request, SCOPE_WEBHOOK, "mercadopago")

    async def admit_unsigned() -> None:
        # Anyone can send an IPN: a flood of them spends its own budget, not the signed one's.
        await enforce_rate_limit(request, SCOPE_WEBHOOK, "mercadopago-ipn")

    try:
        received = await receive(delivery, admit=admit, admit_unsigned=admit_unsigned)
    except Exception:
        metrics.notifications.labels(result="refused").inc()
        raise
    result = "duplicate" if not received.stored else "ignored" if received.ignored else "stored"
    metrics.notifications.labels(result="disabled" if received.disabled else result).inc()
    return web.json_response(
        {"received": 1, "duplicates": 0 if received.stored else 1, "ignored": int(received.ignored)}
    )


def add_payment_routes(app: web.Application) -> None:
    """Register the payments API and the notification endpoint, and their metrics."""
    app[PAYMENT_METRICS] = PaymentMetrics(app[SERVICES].registry)
    add_route(app, hdrs.METH_POST, PAYMENTS_PATH, create_payment)
    add_route(app, hdrs.METH_GET, f"{PAYMENTS_PATH}/{_ID}", show_payment)
    add_route(app, hdrs.METH_POST, f"{PAYMENTS_PATH}/{_ID}/refund", refund_payment)
    add_route(app, hdrs.METH_POST, NOTIFICATIONS_PATH, receive_notification)
