"""A claim's cost follows its batch, not the backlog, even before PostgreSQL has statistics.

A burst fills the spool faster than autovacuum's ANALYZE follows (this project's CI server runs
without autovacuum at all). Left to itself, the planner then expects a handful of rows and
reads every pending one with a bitmap scan, and bitmap scans never mark dead index entries, so
each empty poll of the outbox also revisits every event settled since the last VACUUM. The
claims steer their plan to an index walk (``adapters_db.leases.claim_rows``); these tests replay
what a claim sent, inside one transaction, and read PostgreSQL's own account of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.events import SqlEventStore
from adapters_db.inbox import SqlEventInbox

from .sql_statements import plan_nodes, recorded_statements

BACKLOG = 20_000
LIMIT = 10
LEASE = timedelta(minutes=1)
# Never analyzed: the state right after a burst into a new or freshly churned table.
_PENDING_DELIVERIES = text(
    "INSERT INTO inbound_events (id, channel, received_at, body, headers, query, state)"
    " SELECT 'in_' || lpad(g::text, 6, '0'), 'whatsapp', now(), '{}', '{}', '{}', 'pending'"
    " FROM generate_series(1, :rows) AS g"
)
_PENDING_EVENTS = text(
    "INSERT INTO events (id, channel, dedupe_key, type, tenant_id, integration_id,"
    " status, attempts, occurred_at, received_at, data)"
    " SELECT 'evt_' || lpad(g::text, 6, '0'), 'whatsapp', 'k' || g, 'message.received', 't1',"
    "  'int_1', 'pending', 0, now(), now(), '{}'"
    " FROM generate_series(1, :rows) AS g"
)
_ALL_DELIVERED = text("UPDATE events SET status = 'delivered', delivered_at = now()")


async def _replay(
    engine: AsyncEngine, statements: list[tuple[str, Any]]
) -> list[Mapping[str, Any]]:
    """Run what a claim sent, in order and in one rolled-back transaction, explaining each
    ``UPDATE``; return the plans."""
    plans: list[Mapping[str, Any]] = []
    async with engine.connect() as conn:
        transaction = await conn.begin()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("UPDATE"):
                await conn.exec_driver_sql(statement, parameters)
                continue
            explained = await conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
            )
            [[document]] = explained.all()
            plans.append(document[0]["Plan"])
        await transaction.rollback()
    return plans


async def test_a_spool_claim_walks_the_pending_index_and_stops_at_its_limit(
    postgres_engine: AsyncEngine,
) -> None:
    async with postgres_engine.begin() as conn:
        await conn.execute(_PENDING_DELIVERIES, {"rows": BACKLOG})
    inbox = SqlEventInbox(engine=postgres_engine, group_commit=False)
    try:
        with recorded_statements(postgres_engine) as statements:
            claimed = await inbox.claim_spooled(now=datetime.now(UTC), limit=LIMIT, lease=LEASE)
    finally:
        await inbox.aclose()

    assert [d.id for d in claimed] == [f"in_{n:06d}" for n in range(1, LIMIT + 1)]
    [plan] = await _replay(postgres_engine, statements)
    scans = [node for node in plan_nodes(plan) if "Scan" in node["Node Type"]]
    assert not [s for s in scans if "Bitmap" in s["Node Type"]], scans
    read = max(s["Actual Rows"] + s.get("Rows Removed by Filter", 0) for s in scans)
    assert read <= 2 * LIMIT, f"the claim read {read} rows of a backlog of {BACKLOG}"


async def test_an_empty_outbox_poll_does_not_revisit_settled_events(
    postgres_engine: AsyncEngine,
) -> None:
    async with postgres_engine.begin() as conn:
        await conn.execute(_PENDING_EVENTS, {"rows": BACKLOG})
        await conn.execute(_ALL_DELIVERED)
    outbox = SqlEventStore(engine=postgres_engine, group_commit=False)
    assert await outbox.claim_due(now=datetime.now(UTC), limit=LIMIT, lease=LEASE) == []

    with recorded_statements(postgres_engine) as statements:
        assert await outbox.claim_due(now=datetime.now(UTC), limit=LIMIT, lease=LEASE) == []

    [plan] = await _replay(postgres_engine, statements)
    nodes = list(plan_nodes(plan))
    assert not [n for n in nodes if "Bitmap" in n["Node Type"]], nodes
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    # The settled events' heap alone is several hundred pages: a poll that visits it is O(table).
    assert touched < 50, f"an empty poll touched {touched} pages"


async def test_the_steering_ends_with_the_claims_transaction(postgres_engine: AsyncEngine) -> None:
    outbox = SqlEventStore(engine=postgres_engine, group_commit=False)
    await outbox.claim_due(now=datetime.now(UTC), limit=LIMIT, lease=LEASE)
    assert postgres_engine.pool.checkedin() == 1  # so the next checkout is the claim's connection

    async with postgres_engine.connect() as conn:
        assert await conn.scalar(text("SHOW enable_bitmapscan")) == "on"
