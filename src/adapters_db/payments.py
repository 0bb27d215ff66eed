"""Keep payments and their refunds (the SQL ``PaymentStore``).

Every status a payment takes is also appended to ``payment_status_history`` in the same
transaction, so its history survives restarts and can be audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, case, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.tables import payment_status_history, payments, refunds
from integration_core.errors import Conflict, NotFound
from integration_core.ids import TenantId
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.payments import Payment, Refund


def _payment_conflict() -> Conflict:
    return Conflict("the payment, its provider id or one of its refunds is already stored")


class SqlPaymentStore:
    """Keep payments in PostgreSQL or SQLite, each with its refunds, in order."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def add(self, payment: Payment) -> None:
        """Store a new payment; :class:`Conflict` if its id or provider id is already stored."""
        with storage_errors(unique_violation=_payment_conflict):
            async with self._writer.begin() as conn:
                await conn.execute(insert(payments).values(_payment_to_row(payment)))
                await _insert_refunds(conn, payment)
                await _append_history(conn, payment)

    async def get(self, tenant_id: TenantId, payment_id: str) -> Payment:
        """Return the tenant's payment by our id or the provider's; :class:`NotFound` otherwise."""
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
        """Return any tenant's payment by the provider's id (notification routing), or ``None``."""
        found = await self._load(
            select(payments).where(payments.c.provider_payment_id == provider_payment_id)
        )
        return found[0] if found else None

    async def find(self, payment_id: str) -> Payment | None:
        """Return any tenant's payment by our id (notification routing), or ``None``."""
        found = await self._load(select(payments).where(payments.c.id == payment_id))
        return found[0] if found else None

    async def update(self, payment: Payment) -> None:
        """Replace a stored payment and its refunds in one transaction; :class:`NotFound` if
        absent or another tenant's.
        """
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
                await _insert_refunds(conn, payment)

    async def list(
        self, tenant_id: TenantId, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Payment]:
        """Return the tenant's payments, newest (highest id) first."""
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
                ids = [row["id"] for row in rows]
                refund_rows = (
                    await conn.execute(
                        select(refunds)
                        .where(refunds.c.payment_id.in_(ids))
                        .order_by(refunds.c.payment_id, refunds.c.position)
                    )
                ).mappings()
                by_payment: dict[str, list[Refund]] = {}
                for refund_row in refund_rows:
                    by_payment.setdefault(refund_row["payment_id"], []).append(
                        _row_to_refund(refund_row)
                    )
        return [_row_to_payment(row, by_payment.get(row["id"], ())) for row in rows]


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


async def _insert_refunds(conn: AsyncConnection, payment: Payment) -> None:
    if payment.refunds:
        rows = [_refund_to_row(payment.id, i, r) for i, r in enumerate(payment.refunds)]
        await conn.execute(insert(refunds).values(rows))


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


def _refund_to_row(payment_id: str, position: int, refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": payment_id,
        "position": position,
        "amount": refund.amount,
        "status": refund.status,
        "provider_refund_id": refund.provider_refund_id,
        "created_at": refund.created_at,
    }


def _row_to_refund(row: RowMapping) -> Refund:
    return Refund(
        id=row["id"],
        amount=row["amount"],
        status=row["status"],
        provider_refund_id=row["provider_refund_id"],
        created_at=row["created_at"],
    )
