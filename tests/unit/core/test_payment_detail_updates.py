"""Changes within a status's rank: applied from the provider's newer view only, forwarded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from integration_core.errors import StorageUnavailable
from integration_core.events import EventRecord
from integration_core.ids import TenantId
from integration_core.payments import Payment, ProviderPayment
from integration_core.testing import (
    FakePaymentGateway,
    FrozenClock,
    InMemoryEventStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.payment_updates import (
    ApplyProviderUpdate,
    UpdateOutcome,
    is_newer,
    payment_updated_event,
)
from integration_core.use_cases.payments import CardInput, CreatePayment, NewPayment

T1 = TenantId("tenant-1")
AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CARD = CardInput(token="tok", payment_method_id="visa", installments=1)


class World:
    def __init__(self) -> None:
        self.gateway = FakePaymentGateway()
        self.payments = InMemoryPaymentStore()
        self.events = InMemoryEventStore()
        clock = FrozenClock(AT)
        self.create = CreatePayment(payments=self.payments, gateway=self.gateway, clock=clock)
        self.apply = ApplyProviderUpdate(
            payments=self.payments, gateway=self.gateway, events=self.events, clock=clock
        )

    async def card_payment(self) -> Payment:
        new = NewPayment(
            tenant_id=T1, amount="150.00", currency="ARS", description="Order 42", card=CARD
        )
        return await self.create(new)

    async def queued(self) -> list[EventRecord]:
        return list((await self.events.list(T1)).items)

    async def seen(self, provider_id: str) -> ProviderPayment:
        return await self.gateway.get_payment(provider_id)


def detail_of(event: EventRecord) -> object:
    payment = event.data["payment"]
    assert isinstance(payment, dict)
    return payment["status_detail"]


async def test_a_partial_refund_made_in_the_providers_panel_is_stored_and_forwarded_once() -> None:
    w = World()
    payment = await w.card_payment()
    pid = payment.provider_payment_id
    assert pid is not None
    assert payment.provider_updated_at == (await w.seen(pid)).last_updated_at  # dated at once

    w.gateway.set_status(pid, "approved", "partially_refunded")  # the seller, in the panel
    first = await w.apply(pid, tenant_id=T1)
    again = await w.apply(pid, tenant_id=T1)  # Mercado Pago notifies twice

    assert (first.outcome, first.event_queued) == (UpdateOutcome.UPDATED, True)
    assert again.outcome is UpdateOutcome.UNCHANGED
    stored = await w.payments.get(T1, payment.id)
    assert (stored.status, stored.status_detail) == ("approved", "partially_refunded")
    assert stored.provider_updated_at == (await w.seen(pid)).last_updated_at
    (event,) = await w.queued()
    assert detail_of(event) == "partially_refunded"


async def test_an_older_or_undated_view_never_undoes_a_newer_detail() -> None:
    w = World()
    payment = await w.card_payment()
    pid = payment.provider_payment_id
    assert pid is not None
    w.gateway.set_status(pid, "approved", "partially_refunded")
    newer = await w.seen(pid)
    await w.apply(pid, tenant_id=T1)
    assert newer.last_updated_at is not None
    # A fetch made before the refund, applied late (two workers racing), then one undated.
    older = attrs.evolve(
        newer,
        status_detail="accredited",
        last_updated_at=newer.last_updated_at - timedelta(seconds=1),
    )
    for view in (older, attrs.evolve(older, last_updated_at=None)):
        w.gateway.add_payment(view)
        result = await w.apply(pid, tenant_id=T1)
        assert result.outcome is UpdateOutcome.STALE
    stored = await w.payments.get(T1, payment.id)
    assert (stored.status_detail, stored.provider_updated_at) == (
        "partially_refunded",
        newer.last_updated_at,
    )
    assert len(await w.queued()) == 1


async def test_a_settled_status_never_turns_into_another_settled_one() -> None:
    w = World()
    payment = await w.card_payment()
    assert payment.provider_payment_id is not None
    w.gateway.set_status(payment.provider_payment_id, "cancelled", "by_collector")  # newer
    result = await w.apply(payment.provider_payment_id, tenant_id=T1)
    assert result.outcome is UpdateOutcome.STALE
    assert (await w.payments.get(T1, payment.id)).status == "approved"
    assert await w.queued() == []


async def test_a_detail_that_comes_back_is_news_again() -> None:
    w = World()
    payment = await w.card_payment()
    pid = payment.provider_payment_id
    assert pid is not None
    # Played from an open status: the buyer is asked to confirm, twice.
    held = attrs.evolve(payment, status="pending", status_detail="pending_waiting_payment")
    await w.payments.update(held)
    details = ("pending_challenge", "pending_waiting_payment", "pending_challenge")
    for detail in details:
        w.gateway.set_status(pid, "pending", detail)
        result = await w.apply(pid, tenant_id=T1)
        assert (result.outcome, result.event_queued) == (UpdateOutcome.UPDATED, True)
    queued = await w.queued()
    assert sorted(str(detail_of(e)) for e in queued) == sorted(details)
    assert len({e.dedupe_key for e in queued}) == 3


def test_the_event_key_names_the_provider_state() -> None:
    payment = Payment(
        id="pay_1",
        tenant_id=T1,
        provider_payment_id="9001",
        status="approved",
        status_detail="partially_refunded",
        amount=Decimal("1.00"),
        currency="ARS",
        provider_updated_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    later = AT + timedelta(hours=1)
    key = payment_updated_event(payment, at=AT).dedupe_key
    assert key == "9001:approved:partially_refunded:2026-11-29T12:00:00.000Z"
    assert payment_updated_event(payment, at=later).dedupe_key == key  # seen again later
    undated = attrs.evolve(payment, provider_updated_at=None)
    assert payment_updated_event(undated, at=AT).dedupe_key == "9001:approved:partially_refunded"


@pytest.mark.parametrize(
    ("held", "seen", "newer"),
    [
        (None, AT, True),  # stored before dates were kept: any dated view is at least as new
        (AT, AT + timedelta(milliseconds=1), True),
        (AT, AT, False),
        (AT, AT - timedelta(seconds=1), False),
        (AT, None, False),
        (None, None, False),
    ],
)
def test_is_newer(held: datetime | None, seen: datetime | None, newer: bool) -> None:
    payment = Payment(
        id="pay_1",
        tenant_id=T1,
        amount=Decimal("1.00"),
        currency="ARS",
        provider_updated_at=held,
        created_at=AT,
        updated_at=AT,
    )
    view = ProviderPayment(
        provider_payment_id="1",
        status="approved",
        status_detail=None,
        amount=Decimal("1.00"),
        currency="ARS",
        last_updated_at=seen,
    )
    assert is_newer(view, payment) is newer


async def test_open_statuses_move_among_themselves_when_newer() -> None:
    w = World()
    payment = await w.card_payment()
    pid = payment.provider_payment_id
    assert pid is not None
    pending = attrs.evolve(
        await w.payments.get(T1, payment.id), status="pending", status_detail="pending_challenge"
    )
    await w.payments.update(pending)
    w.gateway.set_status(pid, "in_process", "pending_review_manual")
    result = await w.apply(pid, tenant_id=T1)
    assert result.outcome is UpdateOutcome.UPDATED
    assert (await w.payments.get(T1, payment.id)).status == "in_process"


async def test_a_change_whose_event_could_not_be_queued_is_applied_again_by_the_retry() -> None:
    w = World()
    payment = await w.card_payment()
    pid = payment.provider_payment_id
    assert pid is not None
    w.gateway.set_status(pid, "approved", "partially_refunded")

    w.events.available = False  # the outbox fails between the two writes
    with pytest.raises(StorageUnavailable):
        await w.apply(pid, tenant_id=T1)
    w.events.available = True
    retry = await w.apply(pid, tenant_id=T1)  # the notification comes back after its lease

    assert retry.outcome is UpdateOutcome.UPDATED, "the change is not lost"
    (event,) = await w.queued()
    assert detail_of(event) == "partially_refunded"
