"""Keep create requests by their Idempotency-Key (the SQL ``IdempotencyStore``).

The primary key (tenant, scope, key) lets the database decide which of two concurrent requests
with one key goes first, whichever replicas they reach: ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, RowMapping, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.tables import idempotency_records as table
from integration_core.errors import NotFound
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId


class SqlIdempotencyStore:
    """Keep idempotency records in PostgreSQL or SQLite."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def claim(
        self,
        record: IdempotencyRecord,
        *,
        abandoned_before: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        """Claim in one transaction; see :meth:`IdempotencyStore.claim`.

        Insert unless the key exists; else take over a stale record with a conditional ``UPDATE``
        (atomic, so two takers cannot both win); else read the holder.
        """
        row = _record_to_row(record)
        mine = _key_of(record.tenant_id, record.scope, record.key)
        stale = or_(
            and_(table.c.completed_at.is_(None), table.c.created_at < abandoned_before),
            and_(table.c.completed_at.is_not(None), table.c.created_at < expired_before),
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                inserted = await conn.execute(
                    self._insert_ignoring_conflicts().values(row).returning(table.c.key)
                )
                if inserted.first() is not None:
                    return None
                taken = await conn.execute(
                    update(table).where(mine, stale).values(row).returning(table.c.key)
                )
                if taken.first() is not None:
                    return None
                held = (await conn.execute(select(table).where(mine))).mappings().one()
        return _row_to_record(held)

    async def complete(self, record: IdempotencyRecord) -> None:
        """Raise :class:`NotFound` for a lost claim; see :meth:`IdempotencyStore.complete`."""
        stmt = (
            update(table)
            .where(
                _key_of(record.tenant_id, record.scope, record.key),
                table.c.created_at == record.created_at,
                table.c.completed_at.is_(None),
            )
            .values(
                completed_at=record.completed_at,
                resource_id=record.resource_id,
                response=None if record.response is None else dict(record.response),
            )
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                updated = (await conn.execute(stmt)).rowcount
        if updated == 0:
            raise NotFound("the idempotency key is not claimed by this request")

    async def release(self, tenant_id: TenantId, scope: str, key: str) -> None:
        """See :meth:`IdempotencyStore.release`."""
        stmt = delete(table).where(_key_of(tenant_id, scope, key), table.c.completed_at.is_(None))
        with storage_errors():
            async with self._writer.begin() as conn:
                await conn.execute(stmt)

    async def purge(self, *, created_before: datetime) -> int:
        """Purge with one ``DELETE`` on the ``created_at`` index.

        Records are small and few per tenant, so even a first purge of a long-lived table is one
        short statement. See :meth:`IdempotencyStore.purge`.
        """
        stmt = delete(table).where(table.c.created_at < created_before)
        with storage_errors():
            async with self._writer.begin() as conn:
                return int((await conn.execute(stmt)).rowcount)

    def _insert_ignoring_conflicts(self) -> Insert:
        if is_postgres(self._engine):
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()


def _key_of(tenant_id: str, scope: str, key: str) -> Any:
    return and_(table.c.tenant_id == tenant_id, table.c.scope == scope, table.c.key == key)


def _record_to_row(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "tenant_id": record.tenant_id,
        "scope": record.scope,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "created_at": record.created_at,
        "completed_at": record.completed_at,
        "resource_id": record.resource_id,
        "response": None if record.response is None else dict(record.response),
    }


def _row_to_record(row: RowMapping) -> IdempotencyRecord:
    return IdempotencyRecord(
        tenant_id=TenantId(row["tenant_id"]),
        scope=row["scope"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        resource_id=row["resource_id"],
        response=row["response"],
    )
