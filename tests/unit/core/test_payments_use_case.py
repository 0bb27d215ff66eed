"""Payment use cases: validated input, derived idempotency keys, refunds, forward-only updates."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration_core.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    RefundExceedsBalance,
)
from integration_core.events import EventType
from integration_core.ids import TenantId
from integration_core.payments import ProviderPayment
from integration_core.testing import (
    FakePaymentGateway,
    FrozenClock,
    InMemoryEventStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payment_updates import (
    ApplyProviderUpdate,
    UpdateOutcome,
    status_rank,
)
from integration_core.use_cases.payments import (
    CardInput,
    CreatePayment,
    GetPayment,
    NewPayment,
    derived_key,
)

T1 = TenantId("tenant-1")
T2 = TenantId("tenant-2")
STATUSES = [
    "pending",
    "in_process",
    "authorized",
    "approved",
    "rejected",
    "cancelled",
    "refunded",
    "charged_back",
    "in_mediation",
]


class _Recording(FakePaymentGateway):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.refund_calls = 0

    async def create_checkout(self, request, *, idempotency_key, access_token=None):  # type: ignore[no-untyped-def]
        self.keys.append(idempotency_key)
        return await super().create_checkout(request, idempotency_key=idempotency_key)

    async def refund(self, provider_payment_id, amount, *, idempotency_key, access_token=None):  # type: ignore[no-untyped-def]
        self.refund_calls += 1
        return await super().refund(provider_payment_id, amount, idempotency_key=idempotency_key)


class _World:
    def __init__(self) -> None:
        self.gateway = _Recording()
        self.payments = InMemoryPaymentStore()
        self.events = InMemoryEventStore()
        self.clock = FrozenClock()
        self.create = CreatePayment(payments=self.payments, gateway=self.gateway, clock=self.clock)
        self.get = GetPayment(payments=self.payments)
        self.refund = RefundPayment(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=self.clock
        )
        self.apply = ApplyProviderUpdate(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=self.clock
        )

    async def queued(self, tenant: TenantId = T1) -> list[dict[str, object]]:
        page = await self.events.list(tenant)
        assert all(e.type is EventType.PAYMENT_UPDATED for e in page.items)
        return [dict(e.data["payment"]) for e in page.items]


def _new(**kw: object) -> NewPayment:
    base: dict[str, object] = {
        "tenant_id": T1,
        "amount": "150.00",
        "currency": "ARS",
        "description": "Order 42",
    }
    base.update(kw)
    return NewPayment(**base)  # type: ignore[arg-type]


_CARD = CardInput(token="tok", payment_method_id="visa", installments=1)


async def test_checkout_is_stored_pending_with_our_id_as_reference() -> None:
    w = _World()
    payment = await w.create(_new())
    assert payment.status == "pending"
    assert payment.preference_id == "pref-1"
    assert payment.checkout_url
    assert payment.external_reference == payment.id
    assert payment.amount == Decimal("150.00")
    assert await w.get(T1, payment.id) == payment
    assert w.gateway.keys == [payment.id]
    assert w.gateway.checkouts[0].external_reference == payment.id


async def test_caller_key_is_derived_and_a_retry_returns_the_first_payment() -> None:
    w = _World()
    first = await w.create(_new(idempotency_key="k-1"))
    again = await w.create(_new(idempotency_key="k-1"))
    assert again == first
    assert w.gateway.keys == [derived_key(T1, "k-1")]  # the retry never reached the provider
    assert derived_key(T1, "k-1") == derived_key(T1, "k-1") != derived_key(T2, "k-1")
    other = await w.create(_new(idempotency_key="k-1", tenant_id=T2))
    assert other.id != first.id
    with pytest.raises(IdempotencyKeyReused):
        await w.create(_new(idempotency_key="k-1", amount="151.00"))


async def test_a_crash_after_storing_leaves_a_record_and_a_retry_finishes_it() -> None:
    w = _World()
    original_set_checkout = w.payments.set_checkout

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash between the provider call and the write")

    w.payments.set_checkout = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.create(_new(idempotency_key="k-2"))
    (stored,) = (await w.payments.list(T1)).items
    assert (stored.status, stored.preference_id) == ("pending", None)
    w.payments.set_checkout = original_set_checkout  # type: ignore[method-assign]
    payment = await w.create(_new(idempotency_key="k-2"))
    assert payment.id == stored.id
    assert payment.preference_id == "pref-1"  # the provider answered its first result
    assert w.gateway.keys == [derived_key(T1, "k-2")] * 2
    assert len(w.gateway.checkouts) == 1


async def test_card_payment_takes_the_provider_status() -> None:
    w = _World()
    payment = await w.create(_new(card=_CARD))
    assert payment.provider_payment_id == "1000"
    assert (payment.status, payment.status_detail) == ("approved", "accredited")
    assert await w.get(T1, "1000") == payment


@pytest.mark.parametrize(
    "amount",
    # 27 digits before the point: more than a Decimal holds with two decimals (was a 500)
    ["1.005", "0.001", "0", "0.00", "-5", "-0.01", "abc", "NaN", "Infinity", 1.5, "9" * 27],
)
async def test_invalid_amounts_are_refused_before_anything_is_stored(amount: object) -> None:
    w = _World()
    with pytest.raises(InvalidInput):
        await w.create(_new(amount=amount))
    assert (await w.payments.list(T1)).items == ()
    assert w.gateway.keys == []


@pytest.mark.parametrize("kw", [{"currency": "AR"}, {"currency": "A1S"}, {"description": " "}])
async def test_invalid_fields_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        await _World().create(_new(**kw))


async def test_refund_partial_then_total() -> None:
    w = _World()
    payment = await w.create(_new(card=_CARD))
    payment, refund = await w.refund(T1, payment.id, "50.00")
    assert refund.amount == Decimal("50.00")
    assert refund.provider_refund_id
    assert (payment.status, payment.status_detail) == ("approved", "partially_refunded")
    assert payment.refundable_amount == Decimal("100.00")
    payment, refund = await w.refund(T1, payment.id)
    assert refund.amount == Decimal("100.00")
    assert (payment.status, payment.status_detail) == ("refunded", "refunded")
    assert len((await w.get(T1, payment.id)).refunds) == 2
    assert sorted((e["status"], e["status_detail"]) for e in await w.queued()) == [
        ("approved", "partially_refunded"),
        ("refunded", "refunded"),
    ]


async def test_refund_over_the_balance_fails_before_the_provider_is_called() -> None:
    w = _World()
    payment = await w.create(_new(card=_CARD))
    with pytest.raises(RefundExceedsBalance):
        await w.refund(T1, payment.id, "150.01")
    await w.refund(T1, payment.id)
    with pytest.raises(RefundExceedsBalance):
        await w.refund(T1, payment.id, "1.00")
    assert w.gateway.refund_calls == 1


async def test_refund_with_a_caller_key_happens_once() -> None:
    w = _World()
    payment = await w.create(_new(card=_CARD))
    _, first = await w.refund(T1, payment.id, "10.00", idempotency_key="r")
    payment, again = await w.refund(T1, payment.id, "10.00", idempotency_key="r")
    assert again == first
    assert payment.refunded_amount == Decimal("10.00")


async def test_a_pending_checkout_cannot_be_refunded() -> None:
    w = _World()
    payment = await w.create(_new())
    with pytest.raises(Conflict):
        await w.refund(T1, payment.id)
    assert w.gateway.refund_calls == 0


def _paid(payment_id: str, status: str = "approved", pid: str = "9001") -> ProviderPayment:
    return ProviderPayment(
        provider_payment_id=pid,
        status=status,
        status_detail="accredited" if status == "approved" else None,
        amount=Decimal("150.00"),
        currency="ARS",
        external_reference=payment_id,
    )


async def test_approved_checkout_queues_one_event_however_often_notified() -> None:
    w = _World()
    payment = await w.create(_new())
    w.gateway.add_payment(_paid(payment.id))
    results = [await w.apply("9001", tenant_id=T1) for _ in range(3)]
    assert [r.outcome for r in results] == [
        UpdateOutcome.UPDATED,
        UpdateOutcome.UNCHANGED,
        UpdateOutcome.UNCHANGED,
    ]
    assert results[0].event_queued
    assert await w.queued() == [
        {
            "id": payment.id,
            "provider_payment_id": "9001",
            "status": "approved",
            "status_detail": "accredited",
            "amount": "150.00",
            "currency": "ARS",
            "external_reference": payment.id,
        }
    ]
    stored = await w.get(T1, "9001")
    assert (stored.id, stored.status) == (payment.id, "approved")


async def test_out_of_order_pending_after_approved_keeps_approved() -> None:
    w = _World()
    payment = await w.create(_new())
    w.gateway.add_payment(_paid(payment.id))
    await w.apply("9001", tenant_id=T1)
    w.gateway.set_status("9001", "pending", "pending_waiting_payment")
    result = await w.apply("9001", tenant_id=T1)
    assert result.outcome is UpdateOutcome.STALE
    assert (await w.get(T1, payment.id)).status == "approved"
    assert len(await w.queued()) == 1


async def test_unknown_payments_and_other_tenants_are_unknown() -> None:
    w = _World()
    assert (await w.apply("404", tenant_id=T1)).outcome is UpdateOutcome.UNKNOWN
    payment = await w.create(_new())
    w.gateway.add_payment(_paid(payment.id))
    assert (await w.apply("9001", tenant_id=T2)).outcome is UpdateOutcome.UNKNOWN
    assert (await w.get(T1, payment.id)).provider_payment_id is None
    card = await w.create(_new(card=_CARD))
    assert card.provider_payment_id is not None
    w.gateway.set_status(card.provider_payment_id, "charged_back", "settled")
    assert (await w.apply(card.provider_payment_id, tenant_id=T2)).outcome is UpdateOutcome.UNKNOWN
    assert (await w.get(T1, card.id)).status == "approved"
    assert await w.queued(T2) == []
    with pytest.raises(NotFound):
        await w.get(T2, card.id)
    with pytest.raises(NotFound):
        await w.refund(T2, card.id)


async def test_our_own_accounts_notification_links_by_our_id_across_tenants() -> None:
    w = _World()
    payment = await w.create(_new(external_reference="order-77"))
    w.gateway.add_payment(_paid(payment.id))
    result = await w.apply("9001")  # no tenant: the service's own Mercado Pago account
    assert result.outcome is UpdateOutcome.UPDATED
    stored = await w.get(T1, payment.id)
    assert (stored.provider_payment_id, stored.status) == ("9001", "approved")
    assert stored.external_reference == "order-77"  # the caller's reference stays ours
    assert w.gateway.checkouts[0].external_reference == payment.id


async def test_a_paid_attempt_replaces_a_rejected_one_but_amounts_must_match() -> None:
    w = _World()
    payment = await w.create(_new())
    w.gateway.add_payment(_paid(payment.id, "rejected", pid="1"))
    assert (await w.apply("1", tenant_id=T1)).outcome is UpdateOutcome.UPDATED
    w.gateway.add_payment(_paid(payment.id, "approved", pid="2"))
    assert (await w.apply("2", tenant_id=T1)).outcome is UpdateOutcome.UPDATED
    stored = await w.get(T1, payment.id)
    assert (stored.provider_payment_id, stored.status) == ("2", "approved")
    other = await w.create(_new())
    cheap = ProviderPayment(
        provider_payment_id="3",
        status="approved",
        status_detail="accredited",
        amount=Decimal("1.00"),
        currency="ARS",
        external_reference=other.id,
    )
    w.gateway.add_payment(cheap)
    assert (await w.apply("3", tenant_id=T1)).outcome is UpdateOutcome.MISMATCH
    assert (await w.get(T1, other.id)).status == "pending"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=8))
def test_no_sequence_of_provider_statuses_lowers_the_rank(statuses: list[str]) -> None:
    async def run() -> None:
        w = _World()
        payment = await w.create(_new())
        w.gateway.add_payment(_paid(payment.id, "pending"))
        rank = status_rank("pending")
        changes: list[tuple[str, str | None]] = []
        for status in statuses:
            w.gateway.set_status("9001", status)
            result = await w.apply("9001", tenant_id=T1)
            stored = await w.get(T1, payment.id)
            assert status_rank(stored.status) >= rank
            rank = status_rank(stored.status)
            if result.event_queued:
                changes.append((stored.status, stored.status_detail))
        # One event per real change: each says something the one before did not.
        assert len(await w.queued()) == len(changes)
        assert all(a != b for a, b in pairwise(changes))

    asyncio.run(run())


async def test_a_refund_key_reused_for_another_amount_is_refused() -> None:
    w = _World()
    payment = await w.create(_new(card=_CARD))
    await w.refund(T1, payment.id, "10.00", idempotency_key="r")
    with pytest.raises(IdempotencyKeyReused):
        await w.refund(T1, payment.id, "20.00", idempotency_key="r")
    assert w.gateway.refund_calls == 1
