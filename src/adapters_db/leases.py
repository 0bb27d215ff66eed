"""Lease due rows of a queue table: the claim both outboxes (events, notifications) share.

A queue table has ``id``, ``status``, ``next_attempt_at``, ``lease_expires_at`` and
``received_at``. One ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``: on PostgreSQL
the subquery locks with ``FOR UPDATE SKIP LOCKED``, so concurrent workers skip each other's rows
instead of waiting; SQLite runs it under ``BEGIN IMMEDIATE``, one writer at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, Update, func, or_, select, update


def lease_due(table: Table, *, pending: str, now: datetime, limit: int, lease: timedelta) -> Update:
    """Return the statement that leases up to *limit* rows in status *pending*, due at *now*.

    Oldest due first; the leased rows come back (``RETURNING``) in no particular order.
    """
    due = table.alias("due")
    pick = (
        select(due.c.id)
        .where(
            due.c.status == pending,
            or_(due.c.next_attempt_at.is_(None), due.c.next_attempt_at <= now),
            or_(due.c.lease_expires_at.is_(None), due.c.lease_expires_at <= now),
        )
        .order_by(func.coalesce(due.c.next_attempt_at, due.c.received_at), due.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(table)
        .where(table.c.id.in_(pick))
        .values(lease_expires_at=now + lease)
        .returning(*table.c)
    )
