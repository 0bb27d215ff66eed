"""The payments API and Mercado Pago seller setup, served for real, over the fake Mercado Pago.

The app runs on a local server with the real gateway talking HTTP to the fake Mercado Pago on
127.0.0.1; stores are the in-memory fakes (the SQL ones are covered by the contract suites and
the end-to-end tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tests.fakes.fake_mercadopago import OURS, FakeMercadoPago

from adapters_http.payment_services import PaymentServices
from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, MercadoPagoGateway, MercadoPagoSetup
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier, sign
from integration_core.testing import (
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
    InMemoryPaymentNotificationStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_core.use_cases.payment_notifications import ReceivePaymentNotification
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payments import CreatePayment, GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts

from .conftest import MakeServices

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]
WRITE = ("payments:read", "payments:write", "integrations:write")
CHECKOUT = {"amount": "150.00", "currency": "ARS", "description": "Order 42"}
MP_SECRET = "mp-webhook-secret-http"
NOTIFY = "/api/v1/webhooks/mercadopago"


@attrs.define
class World:
    client: Client
    fake: FakeMercadoPago
    payments: InMemoryPaymentStore
    token_for: Callable[..., str]
    inbox: InMemoryPaymentNotificationStore

    async def post(
        self, path: str, body: Any = None, *, tenant: str = "tenant-1", key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token_for(*WRITE, tenant=tenant)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await self.client.post(path, json=body, headers=headers)
        return response.status, await response.json()

    async def get(self, path: str, *, tenant: str = "tenant-1") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token_for(*WRITE, tenant=tenant)}"}
        response = await self.client.get(path, headers=headers)
        return response.status, await response.json()


@pytest.fixture
async def world(  # noqa: PLR0917 - pytest hands fixtures in by name
    aiohttp_server: ServerFactory,
    make_services: MakeServices,
    make_client: Callable[..., Awaitable[Client]],
    clock: FrozenClock,
    credentials: InMemoryCredentialStore,
    token_for: Callable[..., str],
) -> AsyncIterator[World]:
    fake = FakeMercadoPago()
    base_url = str((await aiohttp_server(fake.app())).make_url(""))
    async with client_session() as session:
        gateway = MercadoPagoGateway(
            session=session,
            base_url=base_url,
            access_token=Secret(OURS),
            retry=attrs.evolve(DEFAULT_RETRIES, initial_backoff=0.001),
            clock=clock,
        )
        integrations = InMemoryIntegrationStore()
        payments = InMemoryPaymentStore()
        events = InMemoryEventStore()
        inbox = InMemoryPaymentNotificationStore()
        services = PaymentServices(
            create=CreatePayment(payments=payments, gateway=gateway, clock=clock),
            get=GetPayment(payments=payments),
            refund=RefundPayment(payments=payments, gateway=gateway, events=events, clock=clock),
            sellers=SellerAccounts(integrations=integrations, credentials=credentials),
            receive_notification=ReceivePaymentNotification(
                notifications=inbox,
                verifier=MercadoPagoWebhookVerifier(clock=clock),
                secrets=(Secret(MP_SECRET),),
                clock=clock,
            ),
        )
        connect = ConnectIntegration(
            integrations=integrations,
            credentials=credentials,
            setups={Channel.MERCADOPAGO: MercadoPagoSetup(gateway=gateway)},
            clock=clock,
            base_url="https://svc.example.test",
        )
        client = await make_client(
            make_services(
                integrations=integrations,
                events=events,
                payment_services=services,
                connect_integration=connect,
            )
        )
        yield World(client=client, fake=fake, payments=payments, token_for=token_for, inbox=inbox)


async def test_checkout_is_created_once_per_idempotency_key(world: World) -> None:
    status, first = await world.post("/api/v1/payments/", CHECKOUT, key="order-42")
    assert status == 201
    assert first["status"] == "pending"
    assert first["amount"] == "150.00"
    assert first["refunded_amount"] == "0.00"
    assert first["checkout_url"].startswith("https://")
    assert first["preference_id"] in world.fake.preferences
    again_status, again = await world.post("/api/v1/payments", CHECKOUT, key="order-42")
    assert (again_status, again) == (200, first)
    assert len(world.fake.requests_to("POST", "/checkout/preferences")) == 1
    sent = world.fake.requests_to("POST", "/checkout/preferences")[0]
    assert sent.headers["x-idempotency-key"] not in {"", "order-42"}  # derived per tenant
    assert sent.json()["external_reference"] == first["id"]
    other_status, other = await world.post("/api/v1/payments", CHECKOUT, key="order-43")
    assert other_status == 201
    assert other["id"] != first["id"]


async def test_the_same_key_for_another_payment_is_refused(world: World) -> None:
    await world.post("/api/v1/payments", CHECKOUT, key="k")
    status, body = await world.post("/api/v1/payments", {**CHECKOUT, "amount": "9.99"}, key="k")
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")


@pytest.mark.parametrize(
    "change",
    [{"amount": 150.0}, {"amount": 150}, {"amount": "1.001"}, {"amount": "-1"}, {"extra": 1}],
)
async def test_amounts_are_decimal_strings_and_bodies_are_strict(
    world: World, change: dict[str, Any]
) -> None:
    status, body = await world.post("/api/v1/payments", {**CHECKOUT, **change})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert world.fake.requests == []


async def test_card_payment_then_partial_refund_over_balance_and_total(world: World) -> None:
    card = {**CHECKOUT, "token": "card-tok", "payment_method_id": "visa", "installments": 1}
    status, paid = await world.post("/api/v1/payments", card)
    assert (status, paid["status"], paid["status_detail"]) == (201, "approved", "accredited")
    path = f"/api/v1/payments/{paid['id']}/refund"
    status, partial = await world.post(path, {"amount": "50.00"}, key="r1")
    assert (status, partial["amount"], partial["status"]) == (201, "50.00", "approved")
    assert (await world.post(path, {"amount": "50.00"}, key="r1")) == (200, partial)
    calls = len(world.fake.requests)
    status, refused = await world.post(path, {"amount": "100.01"})
    assert (status, refused["error"]["code"]) == (422, "refund_exceeds_balance")
    assert len(world.fake.requests) == calls  # refused before any call
    status, rest = await world.post(path)
    assert (status, rest["amount"]) == (201, "100.00")
    status, shown = await world.get(f"/api/v1/payments/{paid['provider_payment_id']}")
    assert (status, shown["id"], shown["status"]) == (200, paid["id"], "refunded")
    assert shown["refunded_amount"] == "150.00"
    assert [r["amount"] for r in shown["refunds"]] == ["50.00", "100.00"]


async def test_a_pending_checkout_cannot_be_refunded(world: World) -> None:
    _, payment = await world.post("/api/v1/payments", CHECKOUT)
    status, body = await world.post(f"/api/v1/payments/{payment['id']}/refund")
    assert (status, body["error"]["code"]) == (409, "conflict")


async def test_payments_are_tenant_scoped_and_need_their_scopes(world: World) -> None:
    _, payment = await world.post("/api/v1/payments", CHECKOUT)
    path = f"/api/v1/payments/{payment['id']}"
    status, body = await world.get(path, tenant="tenant-2")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await world.post(f"{path}/refund", tenant="tenant-2")
    assert (status, body["error"]["code"]) == (404, "not_found")
    read_only = {"Authorization": f"Bearer {world.token_for('payments:read')}"}
    response = await world.client.post("/api/v1/payments", json=CHECKOUT, headers=read_only)
    assert (response.status, (await response.json())["error"]["code"]) == (403, "forbidden")
    response = await world.client.get(path)
    assert response.status == 401
    assert (await world.client.get(path, headers=read_only)).status == 200


async def test_a_connected_seller_account_takes_its_tenants_payments(world: World) -> None:
    access, refresh = world.fake.connect_seller(4242)
    setup = {"access_token": access, "refresh_token": refresh, "public_key": "APP_USR-pk"}
    status, connected = await world.post("/api/v1/integrations/mercadopago/setup", setup)
    assert status == 201, connected
    assert (connected["channel"], connected["external_id"]) == ("mercadopago", "4242")
    assert connected["webhook_url"] == "https://svc.example.test/api/v1/webhooks/mercadopago"
    assert connected["config"]["public_key"] == "APP_USR-pk"
    assert access not in str(connected)
    assert refresh not in str(connected)
    _, payment = await world.post("/api/v1/payments", CHECKOUT)
    assert world.fake.preferences[payment["preference_id"]]["collector_id"] == 4242
    _, theirs = await world.post("/api/v1/payments", CHECKOUT, tenant="tenant-2")
    assert world.fake.preferences[theirs["preference_id"]]["collector_id"] == 1000  # ours


async def test_a_rejected_seller_token_is_invalid_credentials(world: World) -> None:
    status, body = await world.post(
        "/api/v1/integrations/mercadopago/setup", {"access_token": "APP_USR-wrong"}
    )
    assert (status, body["error"]["code"]) == (422, "invalid_credentials")
    assert "APP_USR-wrong" not in str(body)


def _signed(data_id: str, secret: str = MP_SECRET) -> dict[str, str]:
    return {
        "x-signature": sign(Secret(secret), data_id=data_id, request_id="r-1", ts=1_700_000_000),
        "x-request-id": "r-1",
    }


async def test_notifications_are_verified_stored_once_and_answered_at_once(world: World) -> None:
    body = {"id": 9, "type": "payment", "action": "payment.updated", "data": {"id": "555"}}
    query = {"data.id": "555", "type": "payment"}
    response = await world.client.post(NOTIFY, params=query, json=body, headers=_signed("555"))
    assert response.status == 200
    assert await response.json() == {"received": 1, "duplicates": 0, "ignored": 0}
    again = await world.client.post(NOTIFY, params=query, json=body, headers=_signed("555"))
    assert (await again.json())["duplicates"] == 1
    assert len(world.inbox.items) == 1
    assert world.fake.requests == []  # nothing is fetched in the request


async def test_notifications_refused_or_recorded(world: World) -> None:
    query = {"data.id": "555", "type": "payment"}
    forged = await world.client.post(
        NOTIFY, params=query, json={"data": {"id": "555"}}, headers=_signed("555", "wrong")
    )
    assert (forged.status, (await forged.json())["error"]["code"]) == (401, "invalid_signature")
    broken = await world.client.post(
        NOTIFY, params=query, data=b"{not json", headers=_signed("555")
    )
    assert (broken.status, (await broken.json())["error"]["code"]) == (400, "invalid_json")
    ipn = await world.client.post(NOTIFY, params={"topic": "payment", "id": "555"})
    assert ipn.status == 200
    other = {"data.id": "x1", "type": "topic_claims_integration_wh"}
    ignored = await world.client.post(NOTIFY, params=other, json={}, headers=_signed("x1"))
    assert (await ignored.json())["ignored"] == 1
    assert len(world.inbox.items) == 2
