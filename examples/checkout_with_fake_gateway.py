"""Open a Checkout Pro checkout with the core library, a fake gateway standing in for Mercado Pago.

The use cases only know the ``PaymentGateway`` and store ports, so the same code runs against
``adapters_platforms.mercadopago.MercadoPagoGateway`` and ``adapters_db.SqlPaymentStore`` in
production. Here the buyer "pays" on the fake, a notification is applied (twice, as Mercado
Pago retries), and exactly one ``payment.updated`` event is queued for the messaging service.

Run: ``python examples/checkout_with_fake_gateway.py`` (exits 0 when every assertion holds).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from integration_core import TenantId
from integration_core.events import EventType
from integration_core.payments import ProviderPayment
from integration_core.testing import (
    FakePaymentGateway,
    FrozenClock,
    InMemoryEventStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.payment_updates import ApplyProviderUpdate, UpdateOutcome
from integration_core.use_cases.payments import CreatePayment, NewPayment

TENANT = TenantId("acme")


async def main() -> None:
    """Create a checkout, retry it with the same key, pay it, apply the notification twice."""
    clock = FrozenClock()
    gateway = FakePaymentGateway()
    payments = InMemoryPaymentStore()
    events = InMemoryEventStore()
    create = CreatePayment(payments=payments, gateway=gateway, clock=clock)
    apply = ApplyProviderUpdate(payments=payments, gateway=gateway, events=events, clock=clock)

    order = NewPayment(
        tenant_id=TENANT,
        amount="150.00",  # a decimal string, never a float
        currency="ARS",
        description="Order 42",
        idempotency_key="order-42",
    )
    payment = await create(order)
    assert payment.status == "pending"
    assert payment.checkout_url is not None
    assert await create(order) == payment, "the same key returns the first payment"
    assert len(gateway.checkouts) == 1, "and opened one checkout only"
    print(f"{payment.id}: send the buyer to {payment.checkout_url}")

    # The buyer pays on Mercado Pago; its payment names ours as external_reference.
    gateway.add_payment(
        ProviderPayment(
            provider_payment_id="5000001",
            status="approved",
            status_detail="accredited",
            amount=Decimal("150.00"),
            currency="ARS",
            external_reference=payment.id,
        )
    )
    first = await apply("5000001")
    again = await apply("5000001")  # Mercado Pago notifies more than once
    assert (first.outcome, again.outcome) == (UpdateOutcome.UPDATED, UpdateOutcome.UNCHANGED)

    queued = (await events.list(TENANT)).items
    assert [e.type for e in queued] == [EventType.PAYMENT_UPDATED]
    print(f"{payment.id}: {queued[0].data['payment']['status']}, one event queued")


if __name__ == "__main__":
    asyncio.run(main())
