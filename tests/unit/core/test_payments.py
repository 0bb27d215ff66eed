"""Refund arithmetic is exact and refuses to give back more than was paid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.errors import RefundExceedsBalance
from integration_core.ids import TenantId
from integration_core.payments import Payment, Refund
from integration_core.testing.strategies import payments

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _payment(amount: str) -> Payment:
    return Payment(
        id="pay_1",
        tenant_id=TenantId("t1"),
        amount=Decimal(amount),
        currency="ARS",
        created_at=AT,
        updated_at=AT,
    )


def _refund(rid: str, amount: str, status: str = "approved") -> Refund:
    return Refund(id=rid, amount=Decimal(amount), status=status, created_at=AT)


def test_partial_then_total_refund() -> None:
    payment = _payment("150.00")
    assert payment.check_refund(Decimal("50.00")) == Decimal("50.00")
    payment = payment.with_refund(_refund("r1", "50.00"), at=AT)
    assert payment.refunded_amount == Decimal("50.00")
    assert payment.check_refund(None) == Decimal("100.00")
    payment = payment.with_refund(_refund("r2", "100.00"), at=AT)
    assert payment.refundable_amount == Decimal("0.00")
    with pytest.raises(RefundExceedsBalance):
        payment.check_refund(None)


def test_rejected_refunds_do_not_count() -> None:
    payment = _payment("10.00").with_refund(_refund("r1", "10.00", "rejected"), at=AT)
    assert payment.refundable_amount == Decimal("10.00")


def test_refund_replaced_by_id() -> None:
    payment = _payment("10.00").with_refund(_refund("r1", "4.00", "pending"), at=AT)
    payment = payment.with_refund(_refund("r1", "4.00", "approved"), at=AT)
    assert [r.status for r in payment.refunds] == ["approved"]


@pytest.mark.parametrize("amount", ["0", "-1.00", "150.01"])
def test_out_of_range_refund_is_refused(amount: str) -> None:
    with pytest.raises(RefundExceedsBalance):
        _payment("150.00").check_refund(Decimal(amount))


@given(payments(), st.integers(1, 10**9))
def test_refund_never_exceeds_what_is_left(payment: Payment, cents: int) -> None:
    wanted = Decimal(cents) / 100
    if wanted <= payment.refundable_amount:
        assert payment.check_refund(wanted) == wanted
    else:
        with pytest.raises(RefundExceedsBalance):
            payment.check_refund(wanted)
