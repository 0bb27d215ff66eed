"""Money and state stay right under concurrency, on PostgreSQL, against the fake Mercado Pago.

Real concurrent tasks on a real database (each use case on its own pooled connections) and the
real gateway over HTTP: concurrent partial refunds, with and without ``Idempotency-Key``, while
notifications are applied, add up to exactly what Mercado Pago refunded; two notification
workers holding views of different ages never move a payment backwards.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlEventStore, SqlPaymentStore
from adapters_db.payment_notifications import SqlPaymentNotificationStore
from integration_core.errors import IntegrationServiceError, InvalidInput, RefundExceedsBalance
from integration_core.ids import new_id
from integration_core.payment_notifications import PaymentNotification
from integration_core.testing import InMemoryCredentialStore, InMemoryIntegrationStore
from integration_core.use_cases.payment_notifications import ProcessPaymentNotifications
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.seller_accounts import SellerAccounts

from .payment_race_support import (
    TENANT,
    PaymentsWorld,
    payments_world,
    provider_refund_ids,
    provider_refunded,
    wait_for_lock_waiters,
)


async def test_concurrent_partial_refunds_add_up_to_what_mercadopago_refunded(
    postgres_engine: AsyncEngine,
) -> None:
    async with payments_world(postgres_engine) as world:
        payment = await world.card_payment("150.00")
        assert payment.provider_payment_id is not None

        async def keyed(n: int) -> object:
            return await world.refund(TENANT, payment.id, "10.00", idempotency_key=f"r-{n}")

        async def keyless() -> object:
            return await world.refund(TENANT, payment.id, "10.00")

        async def notified() -> object:
            return await world.apply(payment.provider_payment_id or "", tenant_id=TENANT)

        # 8 keyed and 4 keyless refunds of 10.00, and notifications applied meanwhile.
        tasks = [keyed(n) for n in range(8)] + [keyless() for _ in range(4)]
        tasks += [notified() for _ in range(4)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []

        stored = await world.stored(payment)
        provider = world.provider(payment)
        assert provider_refunded(provider) == Decimal("120.00")
        assert stored.refunded_amount == Decimal("120.00")
        assert {r.provider_refund_id for r in stored.refunds} == provider_refund_ids(provider)
        assert len(stored.refunds) == 12
        assert (stored.status, stored.status_detail) == ("approved", "partially_refunded")


async def test_concurrent_refunds_over_the_balance_refund_exactly_the_payment(
    postgres_engine: AsyncEngine,
) -> None:
    async with payments_world(postgres_engine) as world:
        payment = await world.card_payment("100.00")

        async def refund(n: int) -> object:
            return await world.refund(TENANT, payment.id, "15.00", idempotency_key=f"over-{n}")

        async def rest() -> object:
            return await world.refund(TENANT, payment.id, idempotency_key="the-rest")

        results = await asyncio.gather(
            *[refund(n) for n in range(9)], rest(), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        # 135.00 and the rest asked of 100.00: some are refused, by our balance check or (for
        # a reservation made after another's was released) by Mercado Pago; never otherwise.
        assert refused
        assert all(isinstance(r, RefundExceedsBalance | InvalidInput) for r in refused), refused

        final = await world.apply(payment.provider_payment_id or "", tenant_id=TENANT)
        assert final.payment is not None
        stored = await world.stored(payment)
        provider = world.provider(payment)
        assert stored.refunded_amount == provider_refunded(provider)
        assert {r.provider_refund_id for r in stored.refunds} == provider_refund_ids(provider)
        assert not [r for r in stored.refunds if r.pending]
        assert stored.refunded_amount <= Decimal("100.00")


async def test_a_retried_refund_whose_answer_was_lost_is_made_once(
    postgres_engine: AsyncEngine,
) -> None:
    """The first answer times out after Mercado Pago refunded: the retry resends its key."""
    async with payments_world(postgres_engine, timeout_seconds=0.3, retries=0) as world:
        payment = await world.card_payment("50.00")
        world.fake.delay_next(seconds=1.0)  # the refund is made; its answer comes too late
        try:
            await world.refund(TENANT, payment.id, "20.00", idempotency_key="slow")
        except IntegrationServiceError:
            pass
        else:
            raise AssertionError("the slow refund should have timed out")
        held = await world.stored(payment)
        assert [r.pending for r in held.refunds] == [True]  # reserved, key kept
        assert held.refunded_amount == Decimal("0")
        await asyncio.sleep(1.0)  # the fake finishes the first call

        again = await world.refund.refund(TENANT, payment.id, "20.00", idempotency_key="slow")

        provider = world.provider(payment)
        assert provider_refunded(provider) == Decimal("20.00")
        assert len(provider["refunds"]) == 1
        assert again.created
        stored = await world.stored(payment)
        assert stored.refunded_amount == Decimal("20.00")
        assert [r.provider_refund_id for r in stored.refunds] == list(provider_refund_ids(provider))


async def _notification(world: PaymentsWorld, provider_payment_id: str) -> None:
    now = world.clock.now()
    await world.notifications.add(
        PaymentNotification(
            id=new_id("mpn"),
            dedupe_key=f"test:{new_id('n')}",
            topic="payment",
            resource_id=provider_payment_id,
            user_id=None,
            next_attempt_at=now - timedelta(seconds=1),
            received_at=now,
        )
    )


async def test_two_notification_workers_with_out_of_order_views_never_move_backwards(
    postgres_engine: AsyncEngine,
) -> None:
    """Worker A holds the older view (partially refunded), worker B the newer (refunded).

    Both have read the stored payment before either writes: an exclusive lock on the events
    table holds them at the ``payment.updated`` they queue first, then lets both go at once.
    Whatever order their writes land in, the payment ends refunded, every round.
    """
    async with payments_world(postgres_engine) as world:
        sellers = SellerAccounts(
            integrations=InMemoryIntegrationStore(), credentials=InMemoryCredentialStore()
        )

        def worker() -> ProcessPaymentNotifications:
            # Each worker its own stores, as two worker processes have (no shared group commit).
            apply = ApplyProviderUpdate(
                payments=SqlPaymentStore(engine=postgres_engine),
                gateway=world.gateway,
                events=SqlEventStore(engine=postgres_engine),
                clock=world.clock,
            )
            return ProcessPaymentNotifications(
                notifications=SqlPaymentNotificationStore(engine=postgres_engine),
                apply=apply,
                sellers=sellers,
                clock=world.clock,
                batch_size=1,
            )

        ends: list[tuple[str, str | None]] = []
        refunded: list[Decimal] = []
        for round_ in range(8):
            payment = await world.card_payment("80.00", key=f"round-{round_}")
            pid = payment.provider_payment_id
            assert pid is not None
            await world.gateway.refund(pid, Decimal("30.00"), idempotency_key=f"panel-a-{round_}")
            async with postgres_engine.connect() as blocker:
                await blocker.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
                await _notification(world, pid)
                worker_a = asyncio.create_task(worker().run_once())
                await wait_for_lock_waiters(postgres_engine, 1)
                # Mercado Pago moves on: the rest is refunded (in its panel) and notified.
                await world.gateway.refund(pid, None, idempotency_key=f"panel-b-{round_}")
                await _notification(world, pid)
                worker_b = asyncio.create_task(worker().run_once())
                await wait_for_lock_waiters(postgres_engine, 2)
                await blocker.commit()  # both go at once
            done_a, done_b = await asyncio.gather(worker_a, worker_b)
            assert len(done_a) == len(done_b) == 1

            stored = await world.stored(payment)
            ends.append((stored.status, stored.status_detail))
            refunded.append(stored.refunded_amount)

        assert ends == [("refunded", "refunded")] * 8
        assert refunded == [Decimal("80.00")] * 8  # both panel refunds recorded from the views
