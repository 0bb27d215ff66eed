"""MercadoPagoGateway against the fake Mercado Pago on 127.0.0.1: what it sends, what it returns.

Failures, retries and timeouts are in ``test_mercadopago_failures.py``; OAuth in
``test_mercadopago_oauth.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tests.fakes.fake_mercadopago import OURS, FakeMercadoPago

from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, BackUrls, MercadoPagoGateway
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidInput, NotFound
from integration_core.payments import CardPaymentRequest, CheckoutItem, CheckoutRequest

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Build = Callable[..., MercadoPagoGateway]
HOOK = "https://hooks.example.test/webhooks/mercadopago?source_news=webhooks"


@pytest.fixture
def fake() -> FakeMercadoPago:
    return FakeMercadoPago()


@pytest.fixture
async def build(fake: FakeMercadoPago, aiohttp_server: ServerFactory) -> AsyncIterator[Build]:
    base_url = str((await aiohttp_server(fake.app())).make_url(""))
    async with client_session() as session:

        def make(**options: Any) -> MercadoPagoGateway:
            settings: dict[str, Any] = {
                "access_token": Secret(OURS),
                "retry": attrs.evolve(DEFAULT_RETRIES, initial_backoff=0.001),
            } | options
            return MercadoPagoGateway(session=session, base_url=base_url, **settings)

        yield make


def _checkout(**changes: Any) -> CheckoutRequest:
    fields: dict[str, Any] = {
        "payment_id": "pay_1",
        "amount": Decimal("150.20"),
        "currency": "ARS",
        "description": "Two blue mugs",
        "items": (
            CheckoutItem(
                id="mug", title="Blue mug", quantity=2, unit_price=Decimal("75.10"), currency="ARS"
            ),
        ),
        "payer_email": "buyer@example.test",
        "external_reference": "order-42",
        "notification_url": HOOK,
    }
    return CheckoutRequest(**(fields | changes))


def _card(amount: str = "100.50", card: str = "card-tok-1", **changes: Any) -> CardPaymentRequest:
    fields: dict[str, Any] = {
        "payment_id": "pay_2",
        "amount": Decimal(amount),
        "currency": "ARS",
        "description": "A red mug",
        "card_token": card,
        "payment_method_id": "visa",
        "installments": 3,
        "payer_email": "buyer@example.test",
        "external_reference": "order-43",
        "notification_url": HOOK,
    }
    return CardPaymentRequest(**(fields | changes))


async def test_checkout_sends_exact_json_and_returns_the_init_point(
    fake: FakeMercadoPago, build: Build
) -> None:
    back = BackUrls(success="https://shop.example.test/ok", auto_return=True)
    checkout = await build(back_urls=back).create_checkout(_checkout(), idempotency_key="key-c1")

    [sent] = fake.requests_to("POST", "/checkout/preferences")
    assert sent.body == (
        b'{"items":[{"id":"mug","title":"Blue mug","quantity":2,"unit_price":75.10,'
        b'"currency_id":"ARS"}],"payer":{"email":"buyer@example.test"},'
        b'"external_reference":"order-42","notification_url":"' + HOOK.encode() + b'",'
        b'"back_urls":{"success":"https://shop.example.test/ok"},"auto_return":"approved"}'
    )
    assert sent.headers["x-idempotency-key"] == "key-c1"
    assert sent.headers["authorization"] == f"Bearer {OURS}"
    assert sent.headers["content-type"] == "application/json"
    preference = fake.preferences[checkout.preference_id]
    assert checkout.checkout_url == preference["init_point"]
    assert "sandbox" not in checkout.checkout_url


async def test_checkout_without_items_sells_the_description_and_sandbox_uses_its_url(
    fake: FakeMercadoPago, build: Build
) -> None:
    request = _checkout(items=(), payer_email=None, external_reference=None)
    checkout = await build(sandbox=True).create_checkout(request, idempotency_key="key-c2")

    assert fake.requests_to("POST", "/checkout/preferences")[0].json() == {
        "items": [
            {
                "title": "Two blue mugs",
                "quantity": 1,
                "unit_price": Decimal("150.20"),
                "currency_id": "ARS",
            }
        ],
        "notification_url": HOOK,
    }
    assert checkout.checkout_url == fake.preferences[checkout.preference_id]["sandbox_init_point"]


async def test_card_payment_sends_the_documented_fields(
    fake: FakeMercadoPago, build: Build
) -> None:
    payment = await build().create_payment(_card(), idempotency_key="key-p1")

    [sent] = fake.requests_to("POST", "/v1/payments")
    assert sent.headers["x-idempotency-key"] == "key-p1"
    assert sent.body.startswith(b'{"transaction_amount":100.50,"token":"card-tok-1",')
    assert sent.json() == {
        "transaction_amount": Decimal("100.50"),
        "token": "card-tok-1",
        "description": "A red mug",
        "installments": 3,
        "payment_method_id": "visa",
        "payer": {"email": "buyer@example.test"},
        "external_reference": "order-43",
        "notification_url": HOOK,
    }
    assert payment.provider_payment_id in fake.payments
    assert (payment.status, payment.status_detail) == ("approved", "accredited")
    assert (payment.amount, payment.currency) == (Decimal("100.50"), "ARS")
    assert (payment.external_reference, payment.collector_id) == ("order-43", "1000")


async def test_amounts_beyond_float_precision_survive_both_ways(
    fake: FakeMercadoPago, build: Build
) -> None:
    payment = await build().create_payment(_card("9007199254740993.01"), idempotency_key="k")

    assert b'"transaction_amount":9007199254740993.01,' in fake.requests[0].body
    assert payment.amount == Decimal("9007199254740993.01")


async def test_the_same_idempotency_key_returns_the_same_payment_and_charges_once(
    fake: FakeMercadoPago, build: Build
) -> None:
    gateway = build()
    first = await gateway.create_payment(_card(), idempotency_key="key-once")
    again = await gateway.create_payment(_card(), idempotency_key="key-once")
    other = await gateway.create_payment(_card(), idempotency_key="key-twice")

    assert again == first
    assert other.provider_payment_id != first.provider_payment_id
    assert len(fake.payments) == 2


async def test_a_rejected_card_passes_mercado_pagos_own_status_through(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.card_outcomes["card-bad"] = ("rejected", "cc_rejected_insufficient_amount")
    payment = await build().create_payment(_card(card="card-bad"), idempotency_key="k")

    assert (payment.status, payment.status_detail) == (
        "rejected",
        "cc_rejected_insufficient_amount",
    )


async def test_get_payment_follows_the_buyer_paying_the_checkout(
    fake: FakeMercadoPago, build: Build
) -> None:
    gateway = build()
    checkout = await gateway.create_checkout(_checkout(), idempotency_key="key-c3")
    payment_id = fake.pay_checkout(
        checkout.preference_id, status="pending", detail="pending_waiting_payment"
    )
    pending = await gateway.get_payment(payment_id)
    fake.set_status(payment_id, "approved", "accredited")
    approved = await gateway.get_payment(payment_id)

    assert (pending.status, pending.status_detail) == ("pending", "pending_waiting_payment")
    assert (approved.status, approved.amount) == ("approved", Decimal("150.20"))
    assert approved.external_reference == "order-42"
    assert [n.body["action"] for n in fake.outbox] == ["payment.created", "payment.updated"]
    assert fake.outbox[0].url == HOOK
    assert fake.outbox[0].query == {"data.id": payment_id, "type": "payment"}


async def test_unknown_payment_is_not_found_and_ids_cannot_leave_their_path(
    fake: FakeMercadoPago, build: Build
) -> None:
    gateway = build()
    with pytest.raises(NotFound, match="payment 404404 was not found"):
        await gateway.get_payment("404404")
    with pytest.raises(NotFound):
        await gateway.get_payment("../merchant_orders/1")
    with pytest.raises(InvalidInput):
        await gateway.get_payment("..")

    assert fake.requests[-1].path == "/v1/payments/..%2Fmerchant_orders%2F1"


async def test_partial_then_total_refund(fake: FakeMercadoPago, build: Build) -> None:
    gateway = build()
    payment = await gateway.create_payment(_card("100.50"), idempotency_key="key-p")
    partial = await gateway.refund(
        payment.provider_payment_id, Decimal("30.25"), idempotency_key="r1"
    )
    after_partial = await gateway.get_payment(payment.provider_payment_id)
    rest = await gateway.refund(payment.provider_payment_id, None, idempotency_key="r2")
    after_total = await gateway.get_payment(payment.provider_payment_id)

    path = f"/v1/payments/{payment.provider_payment_id}/refunds"
    first, second = fake.requests_to("POST", path)
    assert (first.body, first.headers["x-idempotency-key"]) == (b'{"amount":30.25}', "r1")
    assert (second.body, second.headers["x-idempotency-key"]) == (b"", "r2")
    assert (partial.amount, partial.status) == (Decimal("30.25"), "approved")
    assert (after_partial.status, after_partial.status_detail) == ("approved", "partially_refunded")
    assert rest.amount == Decimal("70.25")
    assert (after_total.status, after_total.status_detail) == ("refunded", "refunded")
    assert partial.provider_refund_id != rest.provider_refund_id
    # date_last_updated (local time, -04:00) orders the views: each change dated later.
    dates = [p.last_updated_at for p in (payment, after_partial, after_total) if p.last_updated_at]
    assert len(dates) == len(set(dates)) == 3
    assert dates == sorted(dates)
    assert all(d.utcoffset() == timedelta(0) for d in dates)


async def test_over_refund_is_invalid_input_with_mercado_pagos_causes(build: Build) -> None:
    gateway = build()
    payment = await gateway.create_payment(_card("10.00"), idempotency_key="key-p")

    with pytest.raises(InvalidInput, match="Invalid refund amount") as caught:
        await gateway.refund(payment.provider_payment_id, Decimal("10.01"), idempotency_key="r")
    assert caught.value.problems == (
        "4040: amount 10.01 exceeds the 10.00 left to refund (approved)",
    )
    with pytest.raises(NotFound):
        await gateway.refund("123", None, idempotency_key="r")
    with pytest.raises(InvalidInput, match="positive"):
        await gateway.refund(payment.provider_payment_id, Decimal("0"), idempotency_key="r")


async def test_a_sellers_token_is_used_instead_of_ours(fake: FakeMercadoPago, build: Build) -> None:
    seller_token, _ = fake.connect_seller(2002)
    seller = Secret(seller_token)
    gateway = build()
    payment = await gateway.create_payment(_card(), idempotency_key="k", access_token=seller)
    seen = await gateway.get_payment(payment.provider_payment_id, access_token=seller)

    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {seller_token}"}
    assert seen.collector_id == "2002"
    with pytest.raises(NotFound):  # the seller's payment is not on our account
        await gateway.get_payment(payment.provider_payment_id)


async def test_no_token_at_all_is_a_configuration_error_before_any_call(
    fake: FakeMercadoPago, build: Build
) -> None:
    gateway = build(access_token=None)
    with pytest.raises(ConfigurationError, match="MP_ACCESS_TOKEN"):
        await gateway.create_payment(_card(), idempotency_key="k")
    with pytest.raises(ConfigurationError, match="empty"):
        await build().get_payment("1", access_token=Secret(""))
    with pytest.raises(InvalidInput, match="idempotency key"):
        await build().create_payment(_card(), idempotency_key=" ")
    assert fake.requests == []


async def test_merchant_order_lists_what_the_buyer_paid(
    fake: FakeMercadoPago, build: Build
) -> None:
    gateway = build()
    checkout = await gateway.create_checkout(_checkout(), idempotency_key="key-c4")
    payment_id = fake.pay_checkout(checkout.preference_id)
    order_id = str(fake.payments[payment_id]["order"]["id"])

    order = await gateway.get_merchant_order(order_id)

    assert (order.id, order.status, order.order_status) == (order_id, "closed", "paid")
    assert (order.preference_id, order.external_reference) == (checkout.preference_id, "order-42")
    assert (order.total_amount, order.paid_amount) == (Decimal("150.20"), Decimal("150.20"))
    assert [(p.id, p.status) for p in order.payments] == [(payment_id, "approved")]
    assert order.approved_amount == Decimal("150.20")
    with pytest.raises(NotFound, match="merchant order 1 was not found"):
        await gateway.get_merchant_order("1")
