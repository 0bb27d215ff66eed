"""The spool of raw deliveries (the SQL ``EventInbox``), in ``inbound_events``.

A request appends one row (``state = 'pending'``) through a group commit and is answered; a
worker leases pending rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), splits them, and in one
transaction inserts their events and marks them ``processed``, or marks one ``failed`` with its
reason. The rows stay: the raw body is what ``replay --renormalize`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Update, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.event_rows import inbound_to_row, row_to_inbound
from adapters_db.events import write_deliveries
from adapters_db.group_commit import GroupCommitter
from adapters_db.leases import claim_rows, lease_due, lease_params
from adapters_db.spool_copy import SpoolAppender, copy_rows, driver_errors, libpq_url
from adapters_db.tables import inbound_events
from integration_core.events import (
    MAX_SPLIT_CLAIMS,
    SPLIT_ABANDONED,
    EventRecord,
    QueueStats,
)
from integration_core.webhooks import InboundEvent

PENDING = "pending"
PROCESSED = "processed"
FAILED = "failed"
_ERROR_LIMIT = 500
# Batches appended at once on PostgreSQL: one fills while the other commits (measured with
# benchmarks/ingest.py: 2 against 1 lifts throughput when commits, not CPU, are the wait).
_APPENDERS = 2
# A claim counts as an attempt: a delivery its splitter died on too often is given up.
_CLAIM = lease_due(inbound_events, pending=PENDING, state="state", scheduled=False).values(
    attempts=inbound_events.c.attempts + 1
)


def _give_up(ids: Sequence[str], now: datetime) -> Update:
    """Return the statement that marks deliveries whose splitter died on each claim failed."""
    return (
        update(inbound_events)
        .where(inbound_events.c.id.in_(ids))
        .values(state=FAILED, processed_at=now, lease_expires_at=None, error=SPLIT_ABANDONED)
    )


class SqlEventInbox:
    """Keep the spool of raw deliveries in PostgreSQL or SQLite."""

    def __init__(self, *, engine: AsyncEngine, group_commit: bool = True) -> None:
        self._engine = engine
        self._writer = for_writing(engine)
        self._postgres = is_postgres(engine)
        # Appends have connections of their own on PostgreSQL: they never wait behind the
        # workers' connections, nor the workers behind them.
        self._appender = (
            SpoolAppender(libpq_url(engine.url), size=_APPENDERS) if self._postgres else None
        )
        self._group: GroupCommitter[InboundEvent, None] | None = (
            GroupCommitter(self._append_many, concurrency=_APPENDERS) if group_commit else None
        )

    async def append(self, inbound: InboundEvent) -> None:
        """Store *inbound* as pending; return once committed (with whatever else waits)."""
        if self._group is not None:
            await self._group.submit(inbound)
        else:
            await self._append_many([inbound])

    async def _append_many(self, deliveries: Sequence[InboundEvent]) -> list[None]:
        with storage_errors(), driver_errors():
            if self._appender is not None:
                await self._appender.copy(copy_rows(deliveries))
            else:
                rows = [inbound_to_row(d, state=PENDING) for d in deliveries]
                async with self._writer.begin() as conn:
                    await conn.execute(sqlite.insert(inbound_events), rows)
        return [None] * len(deliveries)

    async def aclose(self) -> None:
        """Close the appends' own connections (the composition root calls it at shutdown)."""
        if self._appender is not None:
            await self._appender.aclose()

    async def claim_spooled(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[InboundEvent]:
        """Lease up to *limit* pending deliveries, oldest first."""
        params = lease_params(now=now, limit=limit, lease=lease)
        with storage_errors():
            async with self._writer.begin() as conn:
                rows = await claim_rows(conn, _CLAIM, params)
                abandoned = [row["id"] for row in rows if row["attempts"] > MAX_SPLIT_CLAIMS]
                if abandoned:
                    await conn.execute(_give_up(abandoned, now))
        claimed = (row_to_inbound(row) for row in rows if row["id"] not in abandoned)
        return sorted(claimed, key=lambda d: d.id)

    async def complete(
        self,
        splits: Sequence[tuple[InboundEvent, Sequence[EventRecord]]],
        *,
        at: datetime,
        held_until: datetime | None = None,
    ) -> list[tuple[bool, ...]]:
        """Insert the events of each split and mark its delivery processed, in one transaction;
        events that carry a lease token are stored held by it until *held_until*."""
        mark = (
            update(inbound_events)
            .where(inbound_events.c.id.in_([d.id for d, _ in splits]))
            .values(state=PROCESSED, processed_at=at, lease_expires_at=None, error=None)
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                answers = await write_deliveries(
                    conn,
                    self._postgres,
                    [(None, records) for _, records in splits],
                    held_until=held_until,
                )
                await conn.execute(mark)
        return answers

    async def fail(self, inbound_id: str, *, error: str, at: datetime) -> None:
        """Mark the delivery failed with *error*; it stays for ``replay --renormalize``."""
        stmt = (
            update(inbound_events)
            .where(inbound_events.c.id == inbound_id)
            .values(
                state=FAILED, processed_at=at, lease_expires_at=None, error=error[:_ERROR_LIMIT]
            )
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                await conn.execute(stmt)

    async def respool(
        self,
        *,
        failed_only: bool,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
    ) -> int:
        """Make stored deliveries pending again; return how many."""
        states = [FAILED] if failed_only else [FAILED, PROCESSED]
        stmt = (
            update(inbound_events)
            .where(inbound_events.c.state.in_(states))
            .values(state=PENDING, lease_expires_at=None, error=None, processed_at=None, attempts=0)
        )
        if received_after is not None:
            stmt = stmt.where(inbound_events.c.received_at >= received_after)
        if received_before is not None:
            stmt = stmt.where(inbound_events.c.received_at < received_before)
        with storage_errors():
            async with self._writer.begin() as conn:
                return (await conn.execute(stmt)).rowcount

    async def spool_stats(self) -> QueueStats:
        """Return pending and failed counts and the oldest pending delivery's receipt time."""
        state = inbound_events.c.state
        counts = select(state, func.count()).where(state.in_([PENDING, FAILED])).group_by(state)
        oldest = select(func.min(inbound_events.c.received_at)).where(state == PENDING)
        with storage_errors():
            async with self._engine.begin() as conn:
                found: dict[str, int] = {row[0]: row[1] for row in await conn.execute(counts)}
                first = (await conn.execute(oldest)).scalar_one_or_none()
        return QueueStats(
            pending=found.get(PENDING, 0), dead=found.get(FAILED, 0), oldest_pending_at=first
        )
