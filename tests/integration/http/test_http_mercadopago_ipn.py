"""Legacy Mercado Pago IPNs are bounded: stored and fetched once per resource and window.

An IPN carries no signature and names a resource by ``?topic=&id=``; anyone can send one. A
flood of 10,000 of them naming 10 payments, each with its own ``x-request-id``, is served for
real over HTTP into the PostgreSQL notification inbox, then processed by the worker against the
fake Mercado Pago: at most 10 notifications are stored and at most 10 payments fetched per
window. ``MP_IPN_ENABLED`` off answers them without storing anything.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.payment_notifications import SqlPaymentNotificationStore
from adapters_db.tables import payment_notifications
from adapters_http.payment_services import PaymentServices
from integration_core.credentials import Secret
from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier
from integration_core.testing import (
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.payment_notifications import (
    ProcessPaymentNotifications,
    ReceivePaymentNotification,
)
from integration_core.use_cases.payments import GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts

from ..payment_race_support import PaymentsWorld, payments_world
from .conftest import MakeServices

Client = TestClient[web.Request, web.Application]
NOTIFY = "/api/v1/webhooks/mercadopago"
WINDOW = timedelta(minutes=1)
SENDERS = 16


async def _stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(payment_notifications)) or 0)


def _fetches(world: PaymentsWorld, ids: list[str]) -> int:
    return sum(len(world.fake.requests_to("GET", f"/v1/payments/{pid}")) for pid in ids)


async def _flood(client: Client, ids: list[str], total: int) -> list[int]:
    """POST *total* IPNs naming *ids* in turn from concurrent senders; return the statuses."""
    numbers = itertools.count()
    statuses: list[int] = []

    async def sender() -> None:
        while (n := next(numbers)) < total:
            query = {"topic": "payment", "id": ids[n % len(ids)]}
            headers = {"x-request-id": f"flood-{n}"}
            async with client.post(NOTIFY, params=query, headers=headers) as response:
                statuses.append(response.status)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return statuses


async def _drain(process: ProcessPaymentNotifications) -> int:
    done = 0
    while processed := await process.run_once():
        done += len(processed)
    return done


async def _setup(
    postgres_engine: AsyncEngine,
    world: PaymentsWorld,
    clock: FrozenClock,
    make_services: MakeServices,
    make_client: Callable[..., Awaitable[Client]],
    *,
    enabled: bool = True,
) -> tuple[Client, ProcessPaymentNotifications]:
    inbox = SqlPaymentNotificationStore(engine=postgres_engine)
    sellers = SellerAccounts(
        integrations=InMemoryIntegrationStore(), credentials=InMemoryCredentialStore()
    )
    services = PaymentServices(
        create=world.create,
        get=GetPayment(payments=world.payments),
        refund=world.refund,
        sellers=sellers,
        receive_notification=ReceivePaymentNotification(
            notifications=inbox,
            verifier=MercadoPagoWebhookVerifier(clock=clock),
            secrets=(Secret("mp-secret-ipn"),),
            clock=clock,
            ipn_enabled=enabled,
            ipn_window=WINDOW,
        ),
    )
    client = await make_client(make_services(payment_services=services))
    process = ProcessPaymentNotifications(
        notifications=inbox,
        apply=world.apply,
        sellers=sellers,
        clock=clock,
        payments=world.payments,
        ipn_window=WINDOW,
    )
    return client, process


async def test_an_ipn_flood_is_stored_and_fetched_once_per_payment_and_window(
    postgres_engine: AsyncEngine,
    clock: FrozenClock,
    make_services: MakeServices,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    async with payments_world(postgres_engine) as world:
        paid = [await world.card_payment("20.00", key=f"ipn-{n}") for n in range(10)]
        ids = [p.provider_payment_id or "" for p in paid]
        client, process = await _setup(postgres_engine, world, clock, make_services, make_client)
        before = _fetches(world, ids)

        statuses = await _flood(client, ids, 10_000)

        assert statuses.count(200) == 10_000  # answered, so Mercado Pago stops resending
        assert await _stored(postgres_engine) == 10
        assert await _drain(process) == 10
        assert _fetches(world, ids) - before == 10

        # Later in the same window: the fetch happened, so repeats wait for the next window.
        clock.advance(timedelta(seconds=10))
        assert (await _flood(client, ids, 300)).count(200) == 300
        assert await _stored(postgres_engine) == 20  # one deferred per payment, not more
        assert await _drain(process) == 0  # not due before the next window
        assert _fetches(world, ids) - before == 10

        # The next window: each payment is fetched once more, however many IPNs came.
        clock.advance(WINDOW)
        assert (await _flood(client, ids, 300)).count(200) == 300
        assert await _stored(postgres_engine) == 20
        assert await _drain(process) == 10
        assert _fetches(world, ids) - before == 20


async def test_ipns_switched_off_are_answered_and_never_stored(
    postgres_engine: AsyncEngine,
    clock: FrozenClock,
    make_services: MakeServices,
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    async with payments_world(postgres_engine) as world:
        paid = await world.card_payment("20.00", key="ipn-off")
        client, process = await _setup(
            postgres_engine, world, clock, make_services, make_client, enabled=False
        )

        statuses = await _flood(client, [paid.provider_payment_id or ""], 100)

        assert statuses == [200] * 100
        assert await _stored(postgres_engine) == 0
        assert await _drain(process) == 0
        metrics = await (await client.get("/metrics")).text()
        assert 'integration_payment_notifications_received_total{result="disabled"} 100.0' in (
            metrics
        )
