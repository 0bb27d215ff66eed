"""Write a payment's refund rows: read them in order, append, settle and merge the provider's.

Apart from :mod:`adapters_db.payments` because refunds change for their own reason: the rules of
the append-only ``refunds`` rows (migration 0009): each appended after the last position, unique
on the provider's refund id, a pending reservation completed or dropped, the provider's list
merged in. Every function runs inside a transaction of :class:`SqlPaymentStore` that holds the
payment's row locked, so a position or a balance read stays the caller's until it commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters_db.tables import refunds
from integration_core.ids import new_id
from integration_core.payments import REFUND_PENDING, Payment, ProviderRefund, Refund


async def refunds_of(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, list[Refund]]:
    """Return the refunds of the payments *ids*, each payment's in order."""
    rows = (
        await conn.execute(
            select(refunds)
            .where(refunds.c.payment_id.in_(ids))
            .order_by(refunds.c.payment_id, refunds.c.position)
        )
    ).mappings()
    by_payment: dict[str, list[Refund]] = {}
    for row in rows:
        by_payment.setdefault(row["payment_id"], []).append(_row_to_refund(row))
    return by_payment


async def append_refund(conn: AsyncConnection, payment_id: str, refund: Refund) -> None:
    """Append *refund* after the payment's last one."""
    # Callers hold the payment's row lock, so the next position is theirs alone.
    last = await conn.scalar(
        select(func.max(refunds.c.position)).where(refunds.c.payment_id == payment_id)
    )
    position = 0 if last is None else last + 1
    await conn.execute(insert(refunds).values(_refund_to_row(payment_id, position, refund)))


async def insert_refunds(conn: AsyncConnection, payment: Payment) -> None:
    """Write all of *payment*'s refunds, positioned as listed."""
    if payment.refunds:
        rows = [_refund_to_row(payment.id, i, r) for i, r in enumerate(payment.refunds)]
        await conn.execute(insert(refunds).values(rows))


async def settle_refund(
    conn: AsyncConnection, payment_id: str, refund_id: str, seen: ProviderRefund, *, at: datetime
) -> Refund:
    """Complete the reservation *refund_id* with the provider's answer; see
    :meth:`PaymentStore.settle_refund`."""
    known = (
        (
            await conn.execute(
                select(refunds).where(refunds.c.provider_refund_id == seen.provider_refund_id)
            )
        )
        .mappings()
        .first()
    )
    if known is not None and known["id"] != refund_id:
        # Recorded first from a notification: one provider refund, one row.
        await conn.execute(
            delete(refunds).where(refunds.c.id == refund_id, refunds.c.status == REFUND_PENDING)
        )
        return _row_to_refund(known)
    done = (
        (
            await conn.execute(
                update(refunds)
                .where(refunds.c.id == refund_id, refunds.c.payment_id == payment_id)
                .values(
                    amount=seen.amount,
                    status=seen.status,
                    provider_refund_id=seen.provider_refund_id,
                )
                .returning(*refunds.c)
            )
        )
        .mappings()
        .first()
    )
    if done is not None:
        return _row_to_refund(done)
    # Dropped as stale meanwhile: the provider's answer is what counts.
    refund = _from_provider(refund_id, seen, at)
    await append_refund(conn, payment_id, refund)
    return refund


async def record_refunds(
    conn: AsyncConnection,
    payment_id: str,
    seen: Sequence[ProviderRefund],
    *,
    at: datetime,
    pending_before: datetime,
) -> None:
    """Merge the provider's refunds *seen* and drop stale reservations; see
    :meth:`PaymentStore.record_refunds`."""
    ids = [r.provider_refund_id for r in seen]
    stored: Mapping[str, RowMapping] = {
        row["provider_refund_id"]: row
        for row in (
            await conn.execute(select(refunds).where(refunds.c.provider_refund_id.in_(ids)))
        ).mappings()
    }
    for refund in seen:
        row = stored.get(refund.provider_refund_id)
        if row is None:
            made = _from_provider(new_id("ref"), refund, at)
            await append_refund(conn, payment_id, made)
        elif row["payment_id"] == payment_id and row["status"] != refund.status:
            await conn.execute(
                update(refunds).where(refunds.c.id == row["id"]).values(status=refund.status)
            )
    await conn.execute(
        delete(refunds).where(
            refunds.c.payment_id == payment_id,
            refunds.c.status == REFUND_PENDING,
            refunds.c.created_at < pending_before,
        )
    )


def _from_provider(refund_id: str, seen: ProviderRefund, at: datetime) -> Refund:
    return Refund(
        id=refund_id,
        amount=seen.amount,
        status=seen.status,
        provider_refund_id=seen.provider_refund_id,
        created_at=at,
    )


def _refund_to_row(payment_id: str, position: int, refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": payment_id,
        "position": position,
        "amount": refund.amount,
        "status": refund.status,
        "provider_refund_id": refund.provider_refund_id,
        "provider_key": refund.provider_key,
        "created_at": refund.created_at,
    }


def _row_to_refund(row: RowMapping) -> Refund:
    return Refund(
        id=row["id"],
        amount=row["amount"],
        status=row["status"],
        provider_refund_id=row["provider_refund_id"],
        provider_key=row["provider_key"],
        created_at=row["created_at"],
    )
