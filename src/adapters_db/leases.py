"""Lease due rows of a queue table: the claim the outboxes (events, notifications) and the spool
share.

A queue table has ``id``, a state column, ``lease_expires_at`` and, when its rows are
scheduled, ``next_attempt_at`` and ``received_at``. One ``UPDATE ... WHERE id IN (SELECT ...
LIMIT n) RETURNING``: on PostgreSQL the subquery locks with ``FOR UPDATE SKIP LOCKED``, so
concurrent workers skip each other's rows instead of waiting; SQLite runs it under
``BEGIN IMMEDIATE``, one writer at a time.

Each table's statement is built once, at import, with bound parameters (:func:`lease_params`):
building it anew on every claim cost the worker a few per cent of its CPU (SQLAlchemy derives
the alias's columns each time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Table, Update, bindparam, func, or_, select, update

_NOW = "lease_now"
_UNTIL = "lease_until"
_LIMIT = "lease_limit"


def lease_due(
    table: Table, *, pending: str, state: str = "status", scheduled: bool = True
) -> Update:
    """Return the statement that leases up to ``lease_limit`` rows whose *state* column is
    *pending* and which are due (run it with :func:`lease_params`).

    *scheduled* rows wait for their ``next_attempt_at`` and go oldest due first (by that, or by
    ``received_at`` before a first attempt); other rows go in id order. The leased rows come back
    (``RETURNING``) in no particular order.
    """
    due = table.alias("due")
    now: BindParameter[datetime] = bindparam(_NOW)
    conditions = [
        due.c[state] == pending,
        or_(due.c.lease_expires_at.is_(None), due.c.lease_expires_at <= now),
    ]
    order: list[Any] = [due.c.id]
    if scheduled:
        conditions.append(or_(due.c.next_attempt_at.is_(None), due.c.next_attempt_at <= now))
        order.insert(0, func.coalesce(due.c.next_attempt_at, due.c.received_at))
    pick = (
        select(due.c.id)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam(_LIMIT))
        .with_for_update(skip_locked=True)
    )
    return (
        update(table)
        .where(table.c.id.in_(pick))
        .values(lease_expires_at=bindparam(_UNTIL))
        .returning(*table.c)
    )


def lease_params(*, now: datetime, limit: int, lease: timedelta) -> dict[str, Any]:
    """Return the parameters of a :func:`lease_due` statement: lease until ``now + lease``."""
    return {_NOW: now, _UNTIL: now + lease, _LIMIT: limit}
