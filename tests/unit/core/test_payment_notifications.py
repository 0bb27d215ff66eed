"""Mercado Pago notifications: stored on receipt, applied later from Mercado Pago's own view."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import InvalidSignature, MalformedPayload
from integration_core.events import EventType
from integration_core.ids import TenantId
from integration_core.payment_notifications import NotificationStatus
from integration_core.payments import Payment, ProviderPayment
from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier, sign
from integration_core.testing import (
    FakePaymentGateway,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
    InMemoryPaymentNotificationStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.payment_notifications import (
    NotificationOutcome,
    ProcessPaymentNotifications,
    ReceivePaymentNotification,
)
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.payments import CreatePayment, NewPayment
from integration_core.use_cases.seller_accounts import SellerAccounts
from integration_core.webhooks import WebhookRequest

SECRET = Secret("mp-webhook-secret")
T1 = TenantId("tenant-1")


class _World:
    def __init__(self, *, secrets: tuple[Secret, ...] = (SECRET,)) -> None:
        self.clock = FrozenClock()
        self.gateway = FakePaymentGateway()
        self.payments = InMemoryPaymentStore()
        self.events = InMemoryEventStore()
        self.inbox = InMemoryPaymentNotificationStore()
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.receive = ReceivePaymentNotification(
            notifications=self.inbox,
            verifier=MercadoPagoWebhookVerifier(clock=self.clock),
            secrets=secrets,
            clock=self.clock,
        )
        apply = ApplyProviderUpdate(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=self.clock
        )
        self.process = ProcessPaymentNotifications(
            notifications=self.inbox,
            apply=apply,
            sellers=SellerAccounts(integrations=self.integrations, credentials=self.credentials),
            clock=self.clock,
            payments=self.payments,
            retry_delays=(timedelta(seconds=5), timedelta(seconds=30)),
        )
        self.create = CreatePayment(payments=self.payments, gateway=self.gateway, clock=self.clock)

    async def checkout(self) -> str:
        payment = await self.create(
            NewPayment(tenant_id=T1, amount="150.00", currency="ARS", description="Order")
        )
        return payment.id

    def pay(self, our_id: str, status: str = "approved", pid: str = "777") -> None:
        self.gateway.add_payment(
            ProviderPayment(
                provider_payment_id=pid,
                status=status,
                status_detail="accredited" if status == "approved" else None,
                amount=Decimal("150.00"),
                currency="ARS",
                external_reference=our_id,
            )
        )

    async def forwarded(self) -> list[Any]:
        page = await self.events.list(T1)
        return [e for e in page.items if e.type is EventType.PAYMENT_UPDATED]


def webhook(
    data_id: str = "777",
    *,
    notification_id: int = 1,
    action: str = "payment.updated",
    kind: str = "payment",
    user_id: int | None = 1000,
    secret: Secret = SECRET,
) -> WebhookRequest:
    body = {"id": notification_id, "type": kind, "action": action, "data": {"id": data_id}}
    if user_id is not None:
        body["user_id"] = user_id
    signature = sign(secret, data_id=data_id, request_id="req-1", ts=1_700_000_000)
    return WebhookRequest(
        body=json.dumps(body).encode(),
        headers={"x-signature": signature, "x-request-id": "req-1"},
        query={"data.id": data_id, "type": kind},
    )


async def test_a_signed_notification_is_stored_once_and_not_fetched_on_receipt() -> None:
    w = _World()
    first = await w.receive(webhook())
    again = await w.receive(webhook())
    assert (first.stored, first.ignored, again.stored) == (True, False, False)
    assert len(w.inbox.items) == 1
    (stored,) = w.inbox.items.values()
    assert (stored.topic, stored.resource_id, stored.user_id) == ("payment", "777", "1000")
    assert stored.status is NotificationStatus.PENDING


async def test_bad_or_missing_signatures_and_no_secret_are_refused() -> None:
    w = _World()
    with pytest.raises(InvalidSignature):
        await w.receive(webhook(secret=Secret("another")))
    unsigned = webhook()
    with pytest.raises(InvalidSignature):
        await w.receive(WebhookRequest(body=unsigned.body, query=unsigned.query))
    with pytest.raises(InvalidSignature):
        await _World(secrets=()).receive(webhook())
    assert w.inbox.items == {}


async def test_admission_is_asked_only_once_the_signature_verified() -> None:
    w = _World()
    admitted: list[str] = []

    async def admit() -> None:
        admitted.append("hit")

    with pytest.raises(InvalidSignature):
        await w.receive(webhook(secret=Secret("junk")), admit=admit)
    assert admitted == [], "junk never counts against the webhook budget"
    await w.receive(webhook(), admit=admit)
    assert admitted == ["hit"]

    async def refuse() -> None:
        raise RuntimeError("over the limit")

    with pytest.raises(RuntimeError):
        await w.receive(webhook("778"), admit=refuse)
    assert len(w.inbox.items) == 1, "a refused notification is not stored"


async def test_legacy_ipn_is_stored_unsigned_and_only_fetched() -> None:
    w = _World()
    query = await w.receive(WebhookRequest(body=b"", query={"topic": "payment", "id": "777"}))
    resource = "https://api.mercadolibre.com/merchant_orders/55"
    body = json.dumps({"resource": resource, "topic": "merchant_order"})
    legacy = await w.receive(WebhookRequest(body=body.encode()))
    assert query.legacy
    assert legacy.legacy
    assert query.stored
    assert legacy.stored
    kinds = sorted((n.topic, n.resource_id) for n in w.inbox.items.values())
    assert kinds == [("merchant_order", "55"), ("payment", "777")]


async def test_other_topics_are_recorded_as_ignored_and_never_fetched() -> None:
    w = _World()
    received = await w.receive(webhook("abc", kind="topic_claims_integration_wh"))
    assert received.stored
    assert received.ignored
    assert await w.process.run_once() == []


async def test_a_verified_body_that_is_not_json_is_malformed() -> None:
    w = _World()
    signed = webhook()
    with pytest.raises(MalformedPayload):
        await w.receive(WebhookRequest(body=b"{nope", headers=signed.headers, query=signed.query))


async def test_unknown_payment_is_retried_then_applied_once_it_exists() -> None:
    w = _World()
    await w.receive(webhook())
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.RETRY]
    assert await w.process.run_once() == []  # not due yet
    our_id = await w.checkout()
    w.pay(our_id)
    w.clock.advance(timedelta(seconds=5))
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.UPDATED]
    (event,) = await w.forwarded()
    assert event.data["payment"]["status"] == "approved"
    assert event.data["payment"]["id"] == our_id


async def test_repeats_and_out_of_order_notifications_forward_each_change_once() -> None:
    w = _World()
    our_id = await w.checkout()
    w.pay(our_id)
    for n in (1, 2, 3):  # three distinct notifications of the same change
        await w.receive(webhook(notification_id=n))
    outcomes = [p.outcome for p in await w.process.run_once()]
    assert outcomes == [
        NotificationOutcome.UPDATED,
        NotificationOutcome.UNCHANGED,
        NotificationOutcome.UNCHANGED,
    ]
    w.gateway.set_status("777", "pending")  # a stale view arrives late
    await w.receive(webhook(notification_id=4))
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.STALE]
    w.gateway.set_status("777", "refunded", "refunded")
    await w.receive(webhook(notification_id=5))
    await w.receive(webhook(notification_id=5))  # Mercado Pago's retry of the same one
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.UPDATED]
    statuses = sorted(e.data["payment"]["status"] for e in await w.forwarded())
    assert statuses == ["approved", "refunded"]


async def test_a_notification_nobody_owns_is_kept_unknown_after_the_schedule() -> None:
    w = _World()
    await w.receive(webhook("404"))
    for wait in (0, 5, 30):
        w.clock.advance(timedelta(seconds=wait))
        (processed,) = await w.process.run_once()
    assert processed.outcome is NotificationOutcome.UNKNOWN
    (stored,) = w.inbox.items.values()
    assert (stored.status, stored.attempts) == (NotificationStatus.UNKNOWN, 3)


async def _connect_seller(w: _World) -> None:
    now = w.clock.now()
    seller = Integration(
        id="int_seller",
        tenant_id=T1,
        channel=Channel.MERCADOPAGO,
        status=IntegrationStatus.ACTIVE,
        external_id="4242",
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    await w.integrations.add(seller)
    ref = CredentialRef(tenant_id=T1, integration_id="int_seller", name="access_token")
    await w.credentials.put(ref, Secret("APP_USR-seller"))


async def test_a_connected_sellers_notification_routes_to_its_tenant_and_token() -> None:
    w = _World()
    await _connect_seller(w)
    our_id = await w.checkout()
    w.pay(our_id)
    await w.receive(webhook(user_id=4242))
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.UPDATED]
    (event,) = await w.forwarded()
    assert event.integration_id == "int_seller"


async def test_an_ipn_for_a_known_payment_is_read_with_its_owners_account() -> None:
    w = _World()
    await _connect_seller(w)
    our_id = await w.checkout()
    w.pay(our_id, status="pending")
    await w.receive(webhook(user_id=4242))
    await w.process.run_once()
    w.gateway.set_status("777", "approved", "accredited")
    await w.receive(WebhookRequest(body=b"", query={"topic": "payment", "id": "777"}))
    assert [p.outcome for p in await w.process.run_once()] == [NotificationOutcome.UPDATED]
    (event,) = await w.forwarded()
    assert (event.integration_id, event.data["payment"]["status"]) == ("int_seller", "approved")


class _YieldingPayments(InMemoryPaymentStore):
    """Let the other request run between looking for the key's payment and adding it."""

    async def get(self, tenant_id: TenantId, payment_id: str) -> Payment:
        try:
            return await super().get(tenant_id, payment_id)
        finally:
            await asyncio.sleep(0)


async def test_two_creates_with_one_key_at_once_make_one_payment() -> None:
    w = _World()
    w.payments = _YieldingPayments()
    w.create = CreatePayment(payments=w.payments, gateway=w.gateway, clock=w.clock)
    new = NewPayment(
        tenant_id=T1, amount="150.00", currency="ARS", description="Order", idempotency_key="k"
    )
    first, second = await asyncio.gather(w.create(new), w.create(new))
    assert first.id == second.id
    assert len(w.gateway.checkouts) == 1
