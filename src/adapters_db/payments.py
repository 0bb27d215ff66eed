"""Keep payments and their refunds (the SQL ``PaymentStore``).

Every status a payment takes is also appended to ``payment_status_history`` in the same
transaction, so its history survives restarts and can be audited.

Concurrent writers never undo each other: the provider's state is written by compare-and-set
(one ``UPDATE ... WHERE`` the state read), refunds are rows appended or completed one by one,
unique on the provider's refund id, and every refund write first locks its payment's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes
writers), so a balance check and the row it admits are one step. The refund rows themselves
are written by :mod:`adapters_db.refunds`, inside the transactions opened here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import RowMapping, case, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.refunds import (
    append_refund,
    insert_refunds,
    record_refunds,
    refunds_of,
    settle_refund,
)
from adapters_db.tables import payment_status_history, payments, refunds
from integration_core.errors import Conflict, NotFound
from integration_core.ids import TenantId
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.payments import (
    REFUND_PENDING,
    Payment,
    PaymentState,
    ProviderRefund,
    Refund,
)


def _payment_conflict() -> Conflict:
    return Conflict("the payment, its provider id or one of its refunds is already stored")


class SqlPaymentStore:
    """Keep payments in PostgreSQL or SQLite, each with its refunds, in order."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def add(self, payment: Payment) -> None:
        """Let the unique indexes refuse a repeat (:class:`Conflict`).

        See :meth:`PaymentStore.add`.
        """
        with storage_errors(unique_violation=_payment_conflict):
            async with self._writer.begin() as conn:
                await conn.execute(insert(payments).values(_payment_to_row(payment)))
                await insert_refunds(conn, payment)
                await _append_history(conn, payment)

    async def get(self, tenant_id: TenantId, payment_id: str) -> Payment:
        """See :meth:`PaymentStore.get`."""
        stmt = (
            select(payments)
            .where(
                payments.c.tenant_id == tenant_id,
                or_(payments.c.id == payment_id, payments.c.provider_payment_id == payment_id),
            )
            # Our own id wins should it also be another payment's provider id.
            .order_by(case((payments.c.id == payment_id, 0), else_=1))
            .limit(1)
        )
        found = await self._load(stmt)
        if not found:
            raise NotFound(f"payment {payment_id} was not found")
        return found[0]

    async def find_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        """See :meth:`PaymentStore.find_by_provider_id`."""
        found = await self._load(
            select(payments).where(payments.c.provider_payment_id == provider_payment_id)
        )
        return found[0] if found else None

    async def find(self, payment_id: str) -> Payment | None:
        """See :meth:`PaymentStore.find`."""
        found = await self._load(select(payments).where(payments.c.id == payment_id))
        return found[0] if found else None

    async def update(self, payment: Payment) -> None:
        """Rewrite the row and its refunds in one transaction; see :meth:`PaymentStore.update`."""
        stmt = (
            update(payments)
            .where(payments.c.id == payment.id, payments.c.tenant_id == payment.tenant_id)
            .values(_payment_to_row(payment))
        )
        with storage_errors(unique_violation=_payment_conflict):
            async with self._writer.begin() as conn:
                before = (
                    await conn.execute(
                        select(payments.c.status, payments.c.status_detail).where(
                            payments.c.id == payment.id
                        )
                    )
                ).first()
                if (await conn.execute(stmt)).rowcount == 0:
                    raise NotFound(f"payment {payment.id} was not found")
                if before is not None and tuple(before) != (payment.status, payment.status_detail):
                    await _append_history(conn, payment)
                # Replace rather than diff: a payment has a handful of refunds at most.
                await conn.execute(delete(refunds).where(refunds.c.payment_id == payment.id))
                await insert_refunds(conn, payment)

    async def set_checkout(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        preference_id: str,
        checkout_url: str,
        at: datetime,
    ) -> None:
        """See :meth:`PaymentStore.set_checkout`."""
        stmt = (
            update(payments)
            .where(payments.c.id == payment_id, payments.c.tenant_id == tenant_id)
            .values(preference_id=preference_id, checkout_url=checkout_url, updated_at=at)
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                if (await conn.execute(stmt)).rowcount == 0:
                    raise NotFound(f"payment {payment_id} was not found")

    async def change_state(
        self,
        tenant_id: TenantId,
        payment_id: str,
        *,
        expected: PaymentState,
        new: PaymentState,
        at: datetime,
    ) -> bool:
        """See :meth:`PaymentStore.change_state`."""
        c = payments.c
        stmt = (
            update(payments)
            .where(
                c.id == payment_id,
                c.tenant_id == tenant_id,
                c.provider_payment_id.is_not_distinct_from(expected.provider_payment_id),
                c.status == expected.status,
                c.status_detail.is_not_distinct_from(expected.status_detail),
                c.provider_updated_at.is_not_distinct_from(expected.provider_updated_at),
            )
            .values(
                provider_payment_id=new.provider_payment_id,
                status=new.status,
                status_detail=new.status_detail,
                provider_updated_at=new.provider_updated_at,
                updated_at=at,
            )
        )
        with storage_errors(unique_violation=_payment_conflict):
            async with self._writer.begin() as conn:
                if (await conn.execute(stmt)).rowcount == 1:
                    if (new.status, new.status_detail) != (expected.status, expected.status_detail):
                        await _append_state(conn, payment_id, new, at)
                    return True
                await _locked_row(conn, tenant_id, payment_id)  # NotFound if absent
                return False

    async def reserve_refund(self, tenant_id: TenantId, payment_id: str, refund: Refund) -> Payment:
        """See :meth:`PaymentStore.reserve_refund`."""
        async with self._locked(tenant_id, payment_id) as (conn, row):
            held = (await refunds_of(conn, [payment_id])).get(payment_id, [])
            payment = _row_to_payment(row, held)
            if payment.refund(refund.id) is not None:
                return payment
            payment.check_refund(refund.amount)  # RefundExceedsBalance: nothing written
            await append_refund(conn, payment_id, refund)
        return attrs.evolve(payment, refunds=(*payment.refunds, refund))

    async def settle_refund(
        self,
        tenant_id: TenantId,
        payment_id: str,
        refund_id: str,
        seen: ProviderRefund,
        *,
        at: datetime,
    ) -> Refund:
        """See :meth:`PaymentStore.settle_refund`."""
        async with self._locked(tenant_id, payment_id) as (conn, _):
            return await settle_refund(conn, payment_id, refund_id, seen, at=at)

    async def release_refund(self, tenant_id: TenantId, payment_id: str, refund_id: str) -> None:
        """See :meth:`PaymentStore.release_refund`."""
        owned = select(payments.c.id).where(
            payments.c.id == payment_id, payments.c.tenant_id == tenant_id
        )
        stmt = delete(refunds).where(
            refunds.c.id == refund_id,
            refunds.c.payment_id.in_(owned.scalar_subquery()),
            refunds.c.status == REFUND_PENDING,
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                await conn.execute(stmt)

    async def record_refunds(
        self,
        tenant_id: TenantId,
        payment_id: str,
        seen: Sequence[ProviderRefund],
        *,
        at: datetime,
        pending_before: datetime,
    ) -> None:
        """See :meth:`PaymentStore.record_refunds`."""
        async with self._locked(tenant_id, payment_id) as (conn, _):
            await record_refunds(conn, payment_id, seen, at=at, pending_before=pending_before)

    @asynccontextmanager
    async def _locked(
        self, tenant_id: TenantId, payment_id: str
    ) -> AsyncIterator[tuple[AsyncConnection, RowMapping]]:
        """Open a write transaction holding the tenant's payment row locked (:class:`NotFound`);
        a unique violation in it is a :class:`Conflict`."""
        with storage_errors(unique_violation=_payment_conflict):
            async with self._writer.begin() as conn:
                yield conn, await _locked_row(conn, tenant_id, payment_id)

    async def list(
        self, tenant_id: TenantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Payment]:
        """Page by the primary key, newest first; see :meth:`PaymentStore.list`."""
        check_limit(limit)
        stmt = select(payments).where(payments.c.tenant_id == tenant_id)
        if cursor:
            stmt = stmt.where(payments.c.id < decode_cursor(cursor))
        # One row more than asked tells whether there is a next page.
        found = await self._load(stmt.order_by(payments.c.id.desc()).limit(limit + 1))
        items = tuple(found[:limit])
        more = len(found) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

    async def _load(self, stmt: Executable) -> Sequence[Payment]:
        """Run *stmt* (a select of payments) and attach each payment's refunds, in order.

        Both reads see one snapshot (a SQLite transaction always does; PostgreSQL needs
        ``REPEATABLE READ``), so a concurrent update never mixes old rows with new refunds.
        """
        with storage_errors():
            async with self._engine.connect() as conn:
                if is_postgres(self._engine):
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                rows = (await conn.execute(stmt)).mappings().all()
                if not rows:
                    return []
                by_payment = await refunds_of(conn, [row["id"] for row in rows])
        return [_row_to_payment(row, by_payment.get(row["id"], ())) for row in rows]


async def _locked_row(conn: AsyncConnection, tenant_id: TenantId, payment_id: str) -> RowMapping:
    """Return the tenant's payment row, locked until the transaction ends; :class:`NotFound`."""
    stmt = (
        select(payments)
        .where(payments.c.id == payment_id, payments.c.tenant_id == tenant_id)
        .with_for_update()
    )
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(f"payment {payment_id} was not found")
    return row


async def _append_state(
    conn: AsyncConnection, payment_id: str, state: PaymentState, at: datetime
) -> None:
    await conn.execute(
        insert(payment_status_history).values(
            payment_id=payment_id,
            status=state.status,
            status_detail=state.status_detail,
            changed_at=at,
        )
    )


async def _append_history(conn: AsyncConnection, payment: Payment) -> None:
    # Kept for audit and support ("when did it become approved?"); the API shows the latest.
    await conn.execute(
        insert(payment_status_history).values(
            payment_id=payment.id,
            status=payment.status,
            status_detail=payment.status_detail,
            changed_at=payment.updated_at,
        )
    )


def _payment_to_row(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "tenant_id": payment.tenant_id,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "preference_id": payment.preference_id,
        "checkout_url": payment.checkout_url,
        "status": payment.status,
        "status_detail": payment.status_detail,
        "amount": payment.amount,
        "currency": payment.currency,
        "description": payment.description,
        "external_reference": payment.external_reference,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
        "provider_updated_at": payment.provider_updated_at,
    }


def _row_to_payment(row: RowMapping, refund_list: Sequence[Refund]) -> Payment:
    return Payment(
        id=row["id"],
        tenant_id=TenantId(row["tenant_id"]),
        provider=row["provider"],
        provider_payment_id=row["provider_payment_id"],
        preference_id=row["preference_id"],
        checkout_url=row["checkout_url"],
        status=row["status"],
        status_detail=row["status_detail"],
        amount=row["amount"],
        currency=row["currency"],
        description=row["description"],
        external_reference=row["external_reference"],
        refunds=tuple(refund_list),
        provider_updated_at=row["provider_updated_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
