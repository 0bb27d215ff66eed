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

A claim runs through :func:`claim_rows`, which steers PostgreSQL's plan to an index walk. These
tables churn faster than autovacuum's ANALYZE follows (and CI's server runs without it): with
stale statistics the planner expects a handful of due rows and picks a bitmap scan of them all
(and a sort). Every claim then reads the whole backlog and every dead index entry (bitmap scans
never mark dead entries, index scans do), so the queue slows as it grows, exactly when it must
not. Measured: a claim of 200 of 20,000 pending deliveries 10-12 ms -> 2.7-3.5 ms; an empty
claim over 60,000 settled events 2.7-5.3 ms -> 0.25 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    RowMapping,
    Table,
    Update,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters_db.engine import is_postgres

# For the claim's transaction only (is_local). Only this knob: ``enable_sort = off`` would add
# 1e10 to every plan's cost where a sort is unavoidable (the scheduled claims) and so cross
# ``jit_above_cost`` (140 ms of JIT compilation for an empty claim, measured).
_INDEX_WALK = text("SELECT set_config('enable_bitmapscan', 'off', true)")
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


async def claim_rows(
    conn: AsyncConnection, claim: Update, params: dict[str, Any]
) -> Sequence[RowMapping]:
    """Run the *claim* statement of :func:`lease_due` in *conn*'s transaction and return the
    leased rows; on PostgreSQL its plan walks an index (see the module's docstring)."""
    if is_postgres(conn):
        await conn.execute(_INDEX_WALK)
    return (await conn.execute(claim, params)).mappings().all()
