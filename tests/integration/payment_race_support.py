"""A payments world for concurrency tests: SQL stores, the real gateway, the fake Mercado Pago.

Everything is real but Mercado Pago itself: the SQL stores on the test's database, the
:class:`MercadoPagoGateway` speaking HTTP to :class:`FakeMercadoPago` served on 127.0.0.1, and
the use cases the API and the notification worker run. Tests drive it with concurrent tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import attrs
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fakes.fake_mercadopago import OURS, FakeMercadoPago

from adapters_db import SqlEventStore, SqlPaymentStore
from adapters_db.payment_notifications import SqlPaymentNotificationStore
from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, MercadoPagoGateway
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.ids import TenantId
from integration_core.payments import Payment
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.payments import CardInput, CreatePayment, NewPayment

TENANT = TenantId("tenant-race")
CARD = CardInput(token="card-token-race", payment_method_id="visa", installments=1)


class PaymentsWorld:
    """The stores, gateway and use cases of one test, on *engine* and *fake*."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        fake: FakeMercadoPago,
        base_url: str,
        session: aiohttp.ClientSession,
        timeout_seconds: float = 30.0,
        retries: int = 3,
    ) -> None:
        self.engine = engine
        self.fake = fake
        self.clock = SystemClock()
        self._session = session
        self._base_url = base_url
        self.gateway = self.gateway_with(timeout_seconds=timeout_seconds, retries=retries)
        self.payments = SqlPaymentStore(engine=engine)
        self.events = SqlEventStore(engine=engine)
        self.notifications = SqlPaymentNotificationStore(engine=engine)
        self.create = CreatePayment(payments=self.payments, gateway=self.gateway, clock=self.clock)
        self.refund = RefundPayment(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=self.clock
        )
        self.apply = ApplyProviderUpdate(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=self.clock
        )

    def gateway_with(self, *, timeout_seconds: float, retries: int) -> MercadoPagoGateway:
        """Return a gateway to the fake on our account, with its own timeout and retries."""
        return MercadoPagoGateway(
            session=self._session,
            base_url=self._base_url,
            access_token=Secret(OURS),
            retry=attrs.evolve(
                DEFAULT_RETRIES,
                initial_backoff=0.001,
                timeout_seconds=timeout_seconds,
                attempts=retries + 1,
            ),
            clock=self.clock,
        )

    async def card_payment(self, amount: str = "150.00", key: str | None = None) -> Payment:
        """Charge the fake's test card: an approved payment, stored and known to the fake."""
        new = NewPayment(
            tenant_id=TENANT,
            amount=amount,
            currency="ARS",
            description="Race order",
            card=CARD,
            idempotency_key=key,
        )
        return await self.create(new)

    def provider(self, payment: Payment) -> dict[str, Any]:
        """Return the fake's document of *payment* (the provider's truth)."""
        assert payment.provider_payment_id is not None
        return self.fake.payments[payment.provider_payment_id]

    async def stored(self, payment: Payment) -> Payment:
        """Return *payment* as stored now."""
        return await self.payments.get(TENANT, payment.id)


def provider_refunded(document: dict[str, Any]) -> Decimal:
    """Return what the fake says it refunded on a payment."""
    return Decimal(document["transaction_amount_refunded"])


def provider_refund_ids(document: dict[str, Any]) -> set[str]:
    """Return the ids of the fake's refunds of a payment."""
    return {str(r["id"]) for r in document["refunds"]}


@contextlib.asynccontextmanager
async def served(fake: FakeMercadoPago) -> AsyncIterator[str]:
    """Serve *fake* on 127.0.0.1 from the running loop; yield its base URL."""
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def payments_world(
    engine: AsyncEngine, *, timeout_seconds: float = 30.0, retries: int = 3
) -> AsyncIterator[PaymentsWorld]:
    """Yield a :class:`PaymentsWorld` on *engine* with a fresh fake Mercado Pago."""
    fake = FakeMercadoPago()
    async with served(fake) as base_url, client_session() as session:
        yield PaymentsWorld(
            engine=engine,
            fake=fake,
            base_url=base_url,
            session=session,
            timeout_seconds=timeout_seconds,
            retries=retries,
        )


async def lock_waiters(engine: AsyncEngine) -> int:
    """Return how many sessions of *engine*'s database wait for a lock right now."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE NOT l.granted AND a.datname = current_database()"
            )
        )
    return int(found or 0)


async def wait_for_lock_waiters(engine: AsyncEngine, count: int) -> None:
    """Return once *count* sessions wait for a lock; fail after about 10 seconds."""
    for _ in range(1000):
        if await lock_waiters(engine) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for a lock")
