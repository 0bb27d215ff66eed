"""Keep the Mercado Pago notification inbox (the SQL ``PaymentNotificationStore``).

A notification is inserted with ``ON CONFLICT DO NOTHING`` on its dedupe key, so a repeat is
recognised by the database whichever replica took it; workers lease due rows the way the event
outbox does (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.leases import claim_rows, lease_due, lease_params
from adapters_db.tables import payment_notifications as table
from integration_core.errors import NotFound
from integration_core.payment_notifications import NotificationStatus, PaymentNotification

_PENDING = NotificationStatus.PENDING.value
_CLAIM = lease_due(table, pending=_PENDING)


class SqlPaymentNotificationStore:
    """Keep payment notifications in PostgreSQL or SQLite."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def add(self, notification: PaymentNotification) -> bool:
        """Count a repeated id as a repeated key; see :meth:`PaymentNotificationStore.add`."""
        dialect = postgresql if is_postgres(self._engine) else sqlite
        stmt = (
            dialect.insert(table)
            .values(_to_row(notification))
            .on_conflict_do_nothing()
            .returning(table.c.id)
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                return (await conn.execute(stmt)).first() is not None

    async def add_after(self, notification: PaymentNotification, *, after_key: str) -> bool:
        """See :meth:`PaymentNotificationStore.add_after`."""
        status = select(table.c.status).where(table.c.dedupe_key == after_key)
        with storage_errors():
            async with self._engine.connect() as conn:
                held = await conn.scalar(status)
        if held is None or held == _PENDING:
            return False
        # Two replicas may both get here: the dedupe key keeps one of them.
        return await self.add(notification)

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[PaymentNotification]:
        """See :meth:`PaymentNotificationStore.claim_due`."""
        if limit < 1:
            return []
        params = lease_params(now=now, limit=limit, lease=lease)
        with storage_errors():
            async with self._writer.begin() as conn:
                rows = await claim_rows(conn, _CLAIM, params)
        claimed = [_from_row(row) for row in rows]
        return sorted(claimed, key=lambda n: (n.next_attempt_at or n.received_at, n.id))

    async def settle(
        self,
        notification_id: str,
        *,
        status: NotificationStatus,
        outcome: str | None,
        at: datetime,
        retry_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """See :meth:`PaymentNotificationStore.settle`."""
        stmt = (
            update(table)
            .where(table.c.id == notification_id)
            .values(
                status=status.value,
                outcome=outcome,
                attempts=table.c.attempts + 1,
                next_attempt_at=retry_at,
                lease_expires_at=None,
                last_error=error,
                processed_at=None if status is NotificationStatus.PENDING else at,
            )
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                if (await conn.execute(stmt)).rowcount == 0:
                    raise NotFound(f"notification {notification_id} was not found")


def _to_row(n: PaymentNotification) -> dict[str, Any]:
    return {
        "id": n.id,
        "dedupe_key": n.dedupe_key,
        "topic": n.topic,
        "resource_id": n.resource_id,
        "user_id": n.user_id,
        "status": n.status.value,
        "outcome": n.outcome,
        "attempts": n.attempts,
        "next_attempt_at": n.next_attempt_at,
        "lease_expires_at": None,
        "last_error": n.last_error,
        "received_at": n.received_at,
        "processed_at": n.processed_at,
        "body": n.body,
        "query": dict(n.query),
        "headers": dict(n.headers),
    }


def _from_row(row: RowMapping) -> PaymentNotification:
    return PaymentNotification(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        topic=row["topic"],
        resource_id=row["resource_id"],
        user_id=row["user_id"],
        status=NotificationStatus(row["status"]),
        outcome=row["outcome"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        received_at=row["received_at"],
        processed_at=row["processed_at"],
        body=bytes(row["body"]),
        query=row["query"],
        headers=row["headers"],
    )
