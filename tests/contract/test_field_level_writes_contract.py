"""The field-level writes of the payment, notification and integration stores, on every backend.

Compare-and-set of a payment's provider state, refunds reserved, settled, released and
reconciled one row at a time, IPN deferral, and an integration changed field by field: the
in-memory fakes behave as SQLite and PostgreSQL do.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from adapters_db.payment_notifications import SqlPaymentNotificationStore
from integration_core.channels import Integration, IntegrationStatus
from integration_core.errors import Conflict, IntegrationExists, NotFound, RefundExceedsBalance
from integration_core.ids import new_id
from integration_core.payment_notifications import NotificationStatus, PaymentNotification
from integration_core.payments import REFUND_PENDING, ProviderRefund, Refund
from integration_core.ports import IntegrationStore, PaymentNotificationStore, PaymentStore
from integration_core.testing import InMemoryPaymentNotificationStore

from .conftest import Backend
from .test_integration_store_contract import make_integration
from .test_payment_store_contract import ALICE, BOB, T0, make_payment, make_refund

LATER = T0 + timedelta(hours=1)


def pending(amount: str, **overrides: Any) -> Refund:
    return make_refund(amount, status=REFUND_PENDING, provider_key=f"k-{new_id('k')}", **overrides)


async def test_change_state_writes_only_from_the_expected_state(
    payment_store: PaymentStore,
) -> None:
    payment = make_payment(status="pending", provider_payment_id=None)
    await payment_store.add(payment)
    approved = attrs.evolve(
        payment,
        provider_payment_id="pp-" + new_id("p"),
        status="approved",
        status_detail="accredited",
        provider_updated_at=LATER,
    )

    won = await payment_store.change_state(
        ALICE, payment.id, expected=payment.state, new=approved.state, at=LATER
    )
    lost = await payment_store.change_state(
        ALICE,
        payment.id,
        expected=payment.state,
        new=attrs.evolve(approved.state, status="rejected"),
        at=LATER,
    )

    assert (won, lost) == (True, False)
    stored = await payment_store.get(ALICE, payment.id)
    assert stored.state == approved.state
    assert (stored.preference_id, stored.description) == (payment.preference_id, "Plan Pro — año")
    with pytest.raises(NotFound):
        await payment_store.change_state(
            BOB, payment.id, expected=stored.state, new=stored.state, at=LATER
        )
    other = make_payment(provider_payment_id=None)
    await payment_store.add(other)
    with pytest.raises(Conflict):
        await payment_store.change_state(
            ALICE, other.id, expected=other.state, new=approved.state, at=LATER
        )


async def test_refunds_are_reserved_against_the_balance_then_settled_or_released(
    payment_store: PaymentStore,
) -> None:
    payment = make_payment(amount=Decimal("100.00"), status="approved")
    await payment_store.add(payment)
    first, second = pending("60.00"), pending("30.00")

    held = await payment_store.reserve_refund(ALICE, payment.id, first)
    held = await payment_store.reserve_refund(ALICE, payment.id, second)
    again = await payment_store.reserve_refund(ALICE, payment.id, first)  # a repeat: kept

    assert [r.id for r in held.refunds] == [first.id, second.id]
    assert again.refunds == held.refunds
    assert (held.refunded_amount, held.refundable_amount) == (Decimal("0"), Decimal("10.00"))
    with pytest.raises(RefundExceedsBalance):
        await payment_store.reserve_refund(ALICE, payment.id, pending("10.01"))

    seen = ProviderRefund(
        provider_refund_id="pr-" + new_id("r"), amount=Decimal("60.00"), status="approved"
    )
    done = await payment_store.settle_refund(ALICE, payment.id, first.id, seen, at=LATER)
    await payment_store.release_refund(ALICE, payment.id, second.id)

    stored = await payment_store.get(ALICE, payment.id)
    assert done.provider_refund_id == seen.provider_refund_id
    assert [(r.id, r.status) for r in stored.refunds] == [(first.id, "approved")]
    assert stored.refunds[0].provider_key == first.provider_key
    assert stored.refunded_amount == Decimal("60.00")


async def test_a_provider_refund_is_recorded_once_whoever_records_it_first(
    payment_store: PaymentStore,
) -> None:
    payment = make_payment(amount=Decimal("100.00"), status="approved")
    await payment_store.add(payment)
    reserved = pending("20.00")
    stale = pending("5.00", created_at=T0 - timedelta(hours=1))
    await payment_store.reserve_refund(ALICE, payment.id, stale)
    await payment_store.reserve_refund(ALICE, payment.id, reserved)
    made = ProviderRefund(
        provider_refund_id="pr-" + new_id("r"), amount=Decimal("20.00"), status="approved"
    )
    panel = ProviderRefund(
        provider_refund_id="pr-" + new_id("r"), amount=Decimal("7.00"), status="approved"
    )

    # A notification records the provider's refunds before the refund call's answer is back.
    await payment_store.record_refunds(
        ALICE, payment.id, [made, panel], at=LATER, pending_before=T0
    )
    await payment_store.record_refunds(  # the same view again: nothing new
        ALICE, payment.id, [made, panel], at=LATER, pending_before=T0
    )
    settled = await payment_store.settle_refund(
        ALICE,
        payment.id,
        reserved.id,
        made,
        at=LATER,
    )

    stored = await payment_store.get(ALICE, payment.id)
    assert settled.provider_refund_id == made.provider_refund_id
    ids = sorted(r.provider_refund_id or "" for r in stored.refunds)
    assert ids == sorted([made.provider_refund_id, panel.provider_refund_id])
    assert stored.refunded_amount == Decimal("27.00")
    assert not [r for r in stored.refunds if r.pending]  # the stale reservation is gone too


async def test_modify_writes_only_status_config_external_id_and_updated_at(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(config={"label": "a"})
    await integration_store.add(integration)
    rotated_expiry = T0 + timedelta(days=90)

    def rotate_behind_its_back(current: Integration) -> Integration:
        return attrs.evolve(
            current.with_status(IntegrationStatus.DISABLED, at=LATER),
            config={**current.config, "label": "b"},
            token_expires_at=rotated_expiry,  # not a field modify writes
            webhook_url="https://elsewhere.invalid",
        )

    changed = await integration_store.modify(ALICE, integration.id, rotate_behind_its_back)

    stored = await integration_store.get(ALICE, integration.id)
    assert stored == changed
    assert (stored.status, stored.config["label"]) == (IntegrationStatus.DISABLED, "b")
    assert stored.token_expires_at == integration.token_expires_at
    assert stored.webhook_url == integration.webhook_url
    history = await integration_store.status_history(ALICE, integration.id)
    assert [c.status for c in history][-1] is IntegrationStatus.DISABLED

    def refuse(current: Integration) -> Integration:
        raise Conflict("no")

    with pytest.raises(Conflict):
        await integration_store.modify(ALICE, integration.id, refuse)
    with pytest.raises(NotFound):
        await integration_store.modify(BOB, integration.id, lambda i: i)
    other = make_integration()
    await integration_store.add(other)
    with pytest.raises(IntegrationExists):
        await integration_store.modify(
            ALICE, integration.id, lambda i: attrs.evolve(i, external_id=other.external_id)
        )
    assert await integration_store.get(ALICE, integration.id) == stored


@pytest.fixture
def notification_store(backend: Backend) -> PaymentNotificationStore:
    if backend.engine is None:
        return InMemoryPaymentNotificationStore()
    return SqlPaymentNotificationStore(engine=backend.engine)


def notification(key: str) -> PaymentNotification:
    return PaymentNotification(
        id=new_id("mpn"),
        dedupe_key=key,
        topic="payment",
        resource_id="123",
        user_id=None,
        next_attempt_at=T0,
        received_at=T0,
    )


async def test_add_after_defers_only_behind_a_processed_notification(
    notification_store: PaymentNotificationStore,
) -> None:
    first = notification("ipn:payment:123:w1")
    later = notification("ipn:payment:123:w2")
    assert await notification_store.add(first)

    assert not await notification_store.add_after(later, after_key=first.dedupe_key)
    assert not await notification_store.add_after(later, after_key="ipn:payment:999:w1")
    (claimed,) = await notification_store.claim_due(now=T0, limit=5, lease=timedelta(minutes=1))
    await notification_store.settle(
        claimed.id, status=NotificationStatus.PROCESSED, outcome="updated", at=T0
    )
    assert await notification_store.add_after(later, after_key=first.dedupe_key)
    assert not await notification_store.add_after(
        attrs.evolve(later, id=new_id("mpn")), after_key=first.dedupe_key
    )
