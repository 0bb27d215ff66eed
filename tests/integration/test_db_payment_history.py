"""Every status a payment takes is kept in ``payment_status_history`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlPaymentStore
from adapters_db.tables import payment_status_history
from integration_core.ids import TenantId
from integration_core.payments import Payment

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


async def test_each_status_change_is_appended_once(engine: AsyncEngine) -> None:
    store = SqlPaymentStore(engine=engine)
    payment = Payment(
        id="pay_history",
        tenant_id=TenantId("alice"),
        amount=Decimal("10.00"),
        currency="ARS",
        created_at=T0,
        updated_at=T0,
    )
    await store.add(payment)
    approved = attrs.evolve(
        payment, status="approved", status_detail="accredited", updated_at=T0 + timedelta(1)
    )
    await store.update(approved)
    await store.update(attrs.evolve(approved, checkout_url="https://x.invalid"))  # no change
    refunded = attrs.evolve(
        approved, status="refunded", status_detail="refunded", updated_at=T0 + timedelta(2)
    )
    await store.update(refunded)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    payment_status_history.c.status,
                    payment_status_history.c.status_detail,
                    payment_status_history.c.changed_at,
                ).order_by(payment_status_history.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("pending", None, T0),
        ("approved", "accredited", T0 + timedelta(1)),
        ("refunded", "refunded", T0 + timedelta(2)),
    ]
