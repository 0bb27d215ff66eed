"""The PaymentStore contract, run over every implementation (see conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from integration_core.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from integration_core.ids import TenantId, new_id
from integration_core.payments import Payment, Refund
from integration_core.ports import PaymentStore
from integration_core.testing.strategies import payments

T0 = datetime(2026, 2, 1, 9, 30, 0, 5000, tzinfo=UTC)
ALICE = TenantId("alice")
BOB = TenantId("bob")


def make_payment(**overrides: Any) -> Payment:
    """Return a pending ARS payment of Alice, with *overrides*."""
    values: dict[str, Any] = {
        "id": new_id("pay"),
        "tenant_id": ALICE,
        "provider_payment_id": str(uuid.uuid4().int % 10**12),
        "preference_id": "pref-1",
        "checkout_url": "https://checkout.invalid/p",
        "amount": Decimal("150.00"),
        "currency": "ARS",
        "description": "Plan Pro — año",
        "external_reference": "order-1",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Payment(**values)


def make_refund(amount: str, **overrides: Any) -> Refund:
    """Return an approved refund of *amount*."""
    values: dict[str, Any] = {
        "id": new_id("ref"),
        "amount": Decimal(amount),
        "status": "approved",
        "provider_refund_id": None,
        "created_at": T0 + timedelta(hours=1),
    }
    values.update(overrides)
    return Refund(**values)


async def test_add_then_get_by_our_id_or_the_providers(payment_store: PaymentStore) -> None:
    payment = make_payment()
    await payment_store.add(payment)

    assert await payment_store.get(ALICE, payment.id) == payment
    assert payment.provider_payment_id is not None
    assert await payment_store.get(ALICE, payment.provider_payment_id) == payment
    assert await payment_store.find_by_provider_id(payment.provider_payment_id) == payment


async def test_find_reads_any_tenants_payment_by_our_id_only(payment_store: PaymentStore) -> None:
    payment = make_payment(tenant_id=BOB)
    await payment_store.add(payment)
    assert await payment_store.find(payment.id) == payment
    assert payment.provider_payment_id is not None
    assert await payment_store.find(payment.provider_payment_id) is None
    assert await payment_store.find(new_id("pay")) is None


async def test_a_payment_without_a_provider_id_is_stored(payment_store: PaymentStore) -> None:
    first = make_payment(provider_payment_id=None, preference_id=None, description=None)
    second = make_payment(provider_payment_id=None)
    await payment_store.add(first)
    await payment_store.add(second)

    assert await payment_store.get(ALICE, first.id) == first
    assert await payment_store.get(ALICE, second.id) == second


async def test_unknown_or_another_tenants_payment_is_not_found(
    payment_store: PaymentStore,
) -> None:
    payment = make_payment()
    await payment_store.add(payment)

    assert payment.provider_payment_id is not None
    for key in (payment.id, payment.provider_payment_id):
        with pytest.raises(NotFound):
            await payment_store.get(BOB, key)
    with pytest.raises(NotFound):
        await payment_store.get(ALICE, "pay_unknown")
    assert await payment_store.find_by_provider_id("999") is None


async def test_adding_a_stored_payment_again_is_a_conflict(payment_store: PaymentStore) -> None:
    payment = make_payment()
    await payment_store.add(payment)

    with pytest.raises(Conflict):
        await payment_store.add(attrs.evolve(payment, provider_payment_id=None))
    assert await payment_store.get(ALICE, payment.id) == payment


@pytest.mark.parametrize(
    "amount", ["150.00", "0.10", "1.5", "7", "12345678901234567.89", "0.001", "100.000"]
)
async def test_amounts_round_trip_exactly_with_their_scale(
    payment_store: PaymentStore, amount: str
) -> None:
    payment = make_payment(amount=Decimal(amount), refunds=(make_refund(amount),))
    await payment_store.add(payment)

    stored = await payment_store.get(ALICE, payment.id)

    assert str(stored.amount) == amount
    assert str(stored.refunds[0].amount) == amount


async def test_update_replaces_the_payment_and_its_refunds(payment_store: PaymentStore) -> None:
    payment = make_payment()
    await payment_store.add(payment)
    later = T0 + timedelta(hours=2)
    approved = attrs.evolve(
        payment,
        status="approved",
        status_detail="accredited",
        provider_payment_id="123456789",
        updated_at=later,
    )
    first = make_refund("50.00", status="pending", provider_refund_id="r-1")
    second = make_refund("25.50")
    refunded = approved.with_refund(first, at=later).with_refund(second, at=later)

    await payment_store.update(refunded)

    stored = await payment_store.get(ALICE, payment.id)
    assert stored == refunded
    assert [str(r.amount) for r in stored.refunds] == ["50.00", "25.50"]
    assert stored.refunded_amount == Decimal("75.50")
    assert await payment_store.find_by_provider_id("123456789") == refunded

    # A refund's state changes, another is dropped: the stored set follows exactly.
    settled = attrs.evolve(
        refunded, refunds=(attrs.evolve(first, status="approved"),), updated_at=later
    )
    await payment_store.update(settled)

    assert await payment_store.get(ALICE, payment.id) == settled


async def test_update_of_an_unknown_or_another_tenants_payment_is_not_found(
    payment_store: PaymentStore,
) -> None:
    payment = make_payment()
    await payment_store.add(payment)

    with pytest.raises(NotFound):
        await payment_store.update(attrs.evolve(payment, tenant_id=BOB, status="approved"))
    with pytest.raises(NotFound):
        await payment_store.update(make_payment())
    assert await payment_store.get(ALICE, payment.id) == payment


async def test_list_pages_through_the_tenants_payments_newest_first(
    payment_store: PaymentStore,
) -> None:
    mine = [make_payment(refunds=(make_refund("1.00"),)) for _ in range(7)]
    for payment in (*mine, make_payment(tenant_id=BOB)):
        await payment_store.add(payment)

    seen: list[Payment] = []
    cursor: str | None = None
    while True:
        page = await payment_store.list(ALICE, limit=3, cursor=cursor)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == sorted(mine, key=lambda p: p.id, reverse=True)
    assert (await payment_store.list(TenantId("carol"))).items == ()


async def test_list_rejects_a_bad_cursor_or_limit(payment_store: PaymentStore) -> None:
    with pytest.raises(InvalidInput):
        await payment_store.list(ALICE, cursor="%%%")
    with pytest.raises(InvalidInput):
        await payment_store.list(ALICE, limit=0)


async def test_an_unreachable_database_raises_storage_unavailable(
    unreachable_payment_store: PaymentStore,
) -> None:
    store = unreachable_payment_store
    with pytest.raises(StorageUnavailable):
        await store.add(make_payment())
    with pytest.raises(StorageUnavailable):
        await store.get(ALICE, "pay_x")
    with pytest.raises(StorageUnavailable):
        await store.list(ALICE)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=payments())
async def test_any_payment_round_trips(payment_store: PaymentStore, drawn: Payment) -> None:
    # Examples share the store: give each fresh ids. PostgreSQL text cannot hold U+0000, so
    # (like the HTTP layer) keep it out of the description.
    payment = attrs.evolve(
        drawn,
        id=new_id("pay"),
        provider_payment_id=None if drawn.provider_payment_id is None else uuid.uuid4().hex,
        description=None if drawn.description is None else drawn.description.replace("\0", ""),
        refunds=tuple(
            attrs.evolve(
                r,
                id=new_id("ref"),
                provider_refund_id=None if r.provider_refund_id is None else uuid.uuid4().hex,
            )
            for r in drawn.refunds
        ),
    )
    await payment_store.add(payment)

    stored = await payment_store.get(payment.tenant_id, payment.id)

    assert stored == payment
    assert [str(a.amount) for a in (stored, *stored.refunds)] == [
        str(a.amount) for a in (payment, *payment.refunds)
    ]
