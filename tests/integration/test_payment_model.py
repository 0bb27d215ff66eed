"""Every interleaving of refunds, notifications and retries ends equal to Mercado Pago's view.

A Hypothesis state machine over one payment at a time, on PostgreSQL, against the fake Mercado
Pago over HTTP. Each step runs a few operations as concurrent tasks: refunds with or without an
``Idempotency-Key``, retries of earlier keys, refunds whose answer is lost (the client times out
after Mercado Pago refunded), refunds made in Mercado Pago's panel, and notifications applied.
After every step nothing is shown that Mercado Pago did not do; once a last notification is
applied, our payment equals the provider's: status, detail, refunded amount, the refunds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.fakes.background import BackgroundLoop

from adapters_db import create_engine
from integration_core.errors import IntegrationServiceError
from integration_core.ids import new_id
from integration_core.payments import Payment
from integration_core.use_cases.payment_refunds import RefundPayment

from ..conftest import PostgresClones, with_database
from .payment_race_support import (
    TENANT,
    PaymentsWorld,
    payments_world,
    provider_refund_ids,
    provider_refunded,
)

Op = tuple[Any, ...]
KEYS = ("k1", "k2", "k3")
# Cents of each refund: small against the payment, so several fit and some do not.
CENTS = st.sampled_from([500, 1000, 2500, 4000])
OPS = st.one_of(
    st.tuples(st.just("refund"), CENTS, st.sampled_from((*KEYS, None))),
    st.tuples(st.just("lost"), CENTS, st.sampled_from(KEYS)),
    st.tuples(st.just("retry"), st.sampled_from(KEYS)),
    st.tuples(st.just("panel"), CENTS),
    st.tuples(st.just("notify")),
)


def settled_ids(payment: Payment) -> list[str]:
    """Return the provider ids of the refunds Mercado Pago answered (not those still pending)."""
    return [r.provider_refund_id for r in payment.refunds if r.provider_refund_id is not None]


class Harness:
    """The world the machine drives, on a loop of its own (Hypothesis's rules are synchronous)."""

    def __init__(self, loop: BackgroundLoop, world: PaymentsWorld, lossy: RefundPayment) -> None:
        self.loop = loop
        self.world = world
        self.lossy = lossy

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run(coroutine, timeout=60)


HARNESS: list[Harness] = []


class PaymentModel(RuleBasedStateMachine):
    """One approved payment of 100.00; rules run concurrent operations on it."""

    def __init__(self) -> None:
        super().__init__()
        self.h = HARNESS[0]
        self.payment: Payment = self.h.run(self.h.world.card_payment("100.00"))
        self.amounts: dict[str, Decimal] = {}  # the model: each caller key's first amount

    async def _op(self, op: Op) -> None:
        world, payment = self.h.world, self.payment
        kind = op[0]
        if kind == "refund":
            _, cents, key = op
            amount = Decimal(cents) / 100
            if key is not None:
                self.amounts.setdefault(key, amount)
                amount = self.amounts[key]  # a key is only ever retried with its amount
            await world.refund(TENANT, payment.id, amount, idempotency_key=key)
        elif kind == "lost":
            _, cents, key = op
            amount = self.amounts.setdefault(key, Decimal(cents) / 100)
            world.fake.delay_next(seconds=0.2)  # this call (or a concurrent one) answers late
            await self.h.lossy(TENANT, payment.id, amount, idempotency_key=key)
        elif kind == "retry":
            key = op[1]
            if key in self.amounts:
                await world.refund(TENANT, payment.id, self.amounts[key], idempotency_key=key)
        elif kind == "panel":
            pid = payment.provider_payment_id or ""
            await world.gateway.refund(
                pid, Decimal(op[1]) / 100, idempotency_key=f"panel-{new_id('k')}"
            )
        else:
            await world.apply(payment.provider_payment_id or "", tenant_id=TENANT)

    async def _concurrently(self, ops: list[Op]) -> list[Any]:
        results = await asyncio.gather(*(self._op(op) for op in ops), return_exceptions=True)
        if any(op[0] == "lost" for op in ops):
            await asyncio.sleep(0.25)  # let the late answers go out before the next step
        return results

    @rule(ops=st.lists(OPS, min_size=1, max_size=4))
    def at_once(self, ops: list[Op]) -> None:
        results = self.h.run(self._concurrently(ops))
        # Refusals (over the balance, not approved, timeouts) are answers; bugs are not.
        unexpected = [
            r
            for r in results
            if isinstance(r, BaseException) and not isinstance(r, IntegrationServiceError)
        ]
        assert unexpected == []

    def _both(self) -> tuple[Payment, dict[str, Any]]:
        stored = self.h.run(self.h.world.stored(self.payment))
        return stored, self.h.world.provider(self.payment)

    @invariant()
    def nothing_shown_that_the_provider_did_not_do(self) -> None:
        stored, provider = self._both()
        assert stored.refunded_amount <= provider_refunded(provider)
        shown = settled_ids(stored)
        assert len(shown) == len(set(shown))
        assert set(shown) <= provider_refund_ids(provider)

    def teardown(self) -> None:
        world = self.h.world
        self.h.run(world.apply(self.payment.provider_payment_id or "", tenant_id=TENANT))
        stored, provider = self._both()
        assert (stored.status, stored.status_detail) == (
            provider["status"],
            provider["status_detail"],
        )
        assert stored.refunded_amount == provider_refunded(provider)
        assert set(settled_ids(stored)) == provider_refund_ids(provider)


@contextlib.contextmanager
def harness(url: str) -> Iterator[Harness]:
    loop = BackgroundLoop()
    engine: AsyncEngine = create_engine(url)
    context = payments_world(engine)
    try:
        world: PaymentsWorld = loop.run(context.__aenter__())
        lossy = RefundPayment(
            payments=world.payments,
            gateway=world.gateway_with(timeout_seconds=0.1, retries=0),
            events=world.events,
            clock=world.clock,
        )
        yield Harness(loop, world, lossy)
    finally:
        with contextlib.suppress(Exception):
            loop.run(context.__aexit__(None, None, None))
        loop.run(engine.dispose())
        loop.stop()


def test_every_interleaving_ends_equal_to_the_provider(
    postgres_url: str, postgres_clones: PostgresClones
) -> None:
    name = postgres_clones.take()
    try:
        with harness(with_database(postgres_url, name)) as made:
            HARNESS[:] = [made]
            run_state_machine_as_test(
                PaymentModel,
                settings=settings(
                    max_examples=15,
                    stateful_step_count=5,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
    finally:
        HARNESS.clear()
        postgres_clones.give_back(name)
