"""Keep the inbox and outbox of platform events (the SQL ``EventStore``).

An event row is both the inbox entry (deduplicated by the ``(channel, dedupe_key)`` unique
constraint, so any number of replicas can ingest concurrently) and the outbox entry (leased by
workers through ``lease_expires_at``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    ScalarSelect,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.event_rows import event_to_row, inbound_to_row, row_to_event, row_to_inbound
from adapters_db.group_commit import GroupCommitter
from adapters_db.leases import claim_rows, lease_due, lease_params
from adapters_db.recordset import as_recordset, recordset_insert
from adapters_db.settlement import settle_on
from adapters_db.tables import events as event_table
from adapters_db.tables import inbound_events
from integration_core.channels import Channel
from integration_core.errors import NotFound
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    QueueStats,
    Settlement,
    new_lease_token,
    queued_any,
)
from integration_core.ids import TenantId
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.webhooks import InboundEvent

_PENDING = DeliveryStatus.PENDING.value
# Each claim writes a fresh lease token on its rows (``lease_token``, with the lease_params).
_CLAIM = lease_due(event_table, pending=_PENDING).values(lease_token=bindparam("lease_token"))


_Delivery = tuple[InboundEvent | None, Sequence[EventRecord]]


class SqlEventStore:
    """Keep raw deliveries and their events in PostgreSQL or SQLite."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        group_commit: bool = True,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._writer = for_writing(engine)
        self.on_queued = on_queued
        """Called after a record or requeue queued an event for forwarding: the doorbell of
        this process's workers (another process's find it at their next poll)."""
        self._group: GroupCommitter[_Delivery, tuple[bool, ...]] | None = (
            GroupCommitter(self.record_many) if group_commit else None
        )

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """Let ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` decide what is new.

        So two replicas recording the same event concurrently get exactly one ``True``; a repeat of
        an earlier event in *events* (same key or id) is one too. With group commit, deliveries
        recorded concurrently share the transaction (see :mod:`.group_commit`). See
        :meth:`EventLog.record`.
        """
        if self._group is not None:
            new = await self._group.submit((inbound, events))
        else:
            new = (await self.record_many([(inbound, events)]))[0]
        if self.on_queued is not None and queued_any(new, events):
            self.on_queued()
        return new

    async def record_many(self, deliveries: Sequence[_Delivery]) -> list[tuple[bool, ...]]:
        """Store several deliveries in one transaction; return :meth:`record`'s answer for each.

        An event repeated across deliveries of the batch is new in the first one only.
        """
        with storage_errors():
            async with self._writer.begin() as conn:
                return await write_deliveries(conn, is_postgres(self._engine), deliveries)

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """See :meth:`EventLog.get`."""
        row = await self._fetch_one(
            select(event_table).where(
                event_table.c.id == event_id, event_table.c.tenant_id == tenant_id
            )
        )
        if row is None:
            raise NotFound(f"event {event_id} was not found")
        return row_to_event(row)

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """See :meth:`EventLog.get_inbound`."""
        row = await self._fetch_one(select(inbound_events).where(inbound_events.c.id == inbound_id))
        if row is None:
            raise NotFound(f"inbound delivery {inbound_id} was not found")
        return row_to_inbound(row)

    async def list(
        self,
        tenant_id: TenantId,
        *,
        status: DeliveryStatus | None = None,
        channel: Channel | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[EventRecord]:
        """Page by the primary key, newest first; see :meth:`EventLog.list`."""
        check_limit(limit)
        stmt = select(event_table).where(event_table.c.tenant_id == tenant_id)
        if status is not None:
            stmt = stmt.where(event_table.c.status == status.value)
        if channel is not None:
            stmt = stmt.where(event_table.c.channel == channel.value)
        if received_after is not None:
            stmt = stmt.where(event_table.c.received_at >= received_after)
        if received_before is not None:
            stmt = stmt.where(event_table.c.received_at < received_before)
        if cursor:
            stmt = stmt.where(event_table.c.id < decode_cursor(cursor))
        # One row more than asked tells whether there is a next page.
        stmt = stmt.order_by(event_table.c.id.desc()).limit(limit + 1)
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        items = tuple(row_to_event(row) for row in rows[:limit])
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

    async def scan(
        self,
        *,
        tenant_id: TenantId | None = None,
        status: DeliveryStatus | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        after_id: str | None = None,
        limit: int = 200,
    ) -> Sequence[EventRecord]:
        """Page by keyset on the primary key; see :meth:`EventLog.scan`.

        Each page resumes where the last one ended, so walking the whole table costs one pass,
        however many pages.
        """
        check_limit(limit)
        column = event_table.c
        filters = [
            column.tenant_id == tenant_id if tenant_id is not None else None,
            column.status == status.value if status is not None else None,
            column.received_at >= received_after if received_after is not None else None,
            column.received_at < received_before if received_before is not None else None,
            column.id > after_id if after_id is not None else None,
        ]
        stmt = select(event_table).where(*(f for f in filters if f is not None))
        with storage_errors():
            async with self._engine.connect() as conn:
                result = await conn.execute(stmt.order_by(column.id).limit(limit))
                return [row_to_event(row) for row in result.mappings().all()]

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """Lease until ``now + lease`` (see :mod:`.leases`); see :meth:`Outbox.claim_due`.

        The claim writes one fresh ``lease_token`` on its rows and hands it back on each record.
        """
        if limit < 1:
            return []
        params = lease_params(now=now, limit=limit, lease=lease)
        params["lease_token"] = new_lease_token()
        with storage_errors():
            async with self._writer.begin() as conn:
                rows = await claim_rows(conn, _CLAIM, params)
        claimed = [row_to_event(row) for row in rows]
        # RETURNING has no order of its own.
        return sorted(claimed, key=lambda e: (e.next_attempt_at or e.received_at, e.id))

    async def settle(self, settlements: Sequence[Settlement]) -> builtins.list[str]:
        """Settle the batch by lease token; see :meth:`Outbox.settle`.

        PostgreSQL: one ``UPDATE ... FROM json_to_recordset(...) RETURNING id`` for the whole batch,
        which says exactly which rows it settled. SQLite: see :mod:`.settlement`.
        """
        if not settlements:
            return []
        with storage_errors():
            async with self._writer.begin() as conn:
                settled = await settle_on(conn, is_postgres(self._engine), settlements)
        return [s.event_id for s in settlements if s.event_id not in settled]

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Requeue with one ``UPDATE ... RETURNING``; see :meth:`EventLog.requeue`."""
        values: dict[str, Any] = {
            "status": _PENDING,
            "attempts": 0,
            "next_attempt_at": at,
            "delivered_at": None,
            "lease_expires_at": None,
            "lease_token": None,
        }
        if data is not None:
            values["data"] = dict(data)
        row = await self._fetch_one(
            update(event_table)
            .where(event_table.c.id == event_id, event_table.c.tenant_id == tenant_id)
            .values(**values)
            .returning(*event_table.c),
            write=True,
        )
        if row is None:
            raise NotFound(f"event {event_id} was not found")
        if self.on_queued is not None:
            self.on_queued()
        return row_to_event(row)

    async def stats(self) -> QueueStats:
        """Count pending and dead in one ``SELECT``; see :meth:`Outbox.stats`."""
        with storage_errors():
            async with self._engine.connect() as conn:
                row = (await conn.execute(_STATS)).one()
        return QueueStats(pending=int(row[0]), dead=int(row[1]), oldest_pending_at=row[2])

    async def _fetch_one(self, stmt: Executable, *, write: bool = False) -> RowMapping | None:
        with storage_errors():
            async with (self._writer if write else self._engine).begin() as conn:
                return (await conn.execute(stmt)).mappings().one_or_none()


def _of_status(status: str, column: ColumnElement[Any]) -> ScalarSelect[Any]:
    return select(column).where(event_table.c.status == status).scalar_subquery()


# Each figure reads only the rows of its status, through the (status, next_attempt_at) index:
# the gauges cost what the backlog holds, not what the table does. (One aggregate with FILTER
# read every delivered event too: a parallel scan of the whole table every 5 s per worker.)
_STATS = select(
    _of_status(_PENDING, func.count()),
    _of_status(DeliveryStatus.DEAD.value, func.count()),
    _of_status(_PENDING, func.min(event_table.c.received_at)),
)


async def write_deliveries(
    conn: AsyncConnection,
    postgres: bool,
    deliveries: Sequence[_Delivery],
    *,
    held_until: datetime | None = None,
) -> list[tuple[bool, ...]]:
    """Insert raw deliveries (as processed) and their events on *conn*, inside the caller's
    transaction; return :meth:`SqlEventStore.record`'s answer for each delivery. Events that
    carry a lease token are stored held by it until *held_until*.

    An event repeated across deliveries of the batch is new in the first one only.
    """
    fresh: dict[tuple[int, int], EventRecord] = {}
    seen: set[object] = set()
    for d, (_, events) in enumerate(deliveries):
        for index, event in enumerate(events):
            key = (event.channel, event.dedupe_key)
            if key not in seen and event.id not in seen:
                seen.update((key, event.id))
                fresh[d, index] = event
    # One lock order for every writer (the unique index), so concurrent batches sharing
    # events cannot deadlock on PostgreSQL.
    rows = sorted(
        (event_to_row(event, held_until=held_until) for event in fresh.values()),
        key=lambda row: (row["channel"], row["dedupe_key"]),
    )
    inbound_rows = sorted(
        (inbound_to_row(inbound) for inbound, _ in deliveries if inbound is not None),
        key=lambda row: row["id"],
    )
    inserted: set[str] = set()
    if postgres:
        # One statement and one JSON parameter whatever the batch size: nothing is parsed or
        # escaped per row on our side.
        if inbound_rows:
            await conn.execute(_INSERT_INBOUND_PG, as_recordset(inbound_rows))
        if rows:
            result = await conn.execute(_INSERT_EVENTS_PG, as_recordset(rows))
            inserted.update(result.scalars())
    else:
        # executemany: SQLAlchemy batches the rows into multi-row INSERTs itself from one cached
        # compiled statement.
        if inbound_rows:
            await conn.execute(sqlite.insert(inbound_events).on_conflict_do_nothing(), inbound_rows)
        if rows:
            stmt = sqlite.insert(event_table).on_conflict_do_nothing().returning(event_table.c.id)
            inserted.update((await conn.execute(stmt, rows)).scalars())
    return [
        tuple((d, i) in fresh and fresh[d, i].id in inserted for i in range(len(events)))
        for d, (_, events) in enumerate(deliveries)
    ]


_INSERT_INBOUND_PG = recordset_insert(inbound_events)
_INSERT_EVENTS_PG = recordset_insert(event_table, returning="id")
