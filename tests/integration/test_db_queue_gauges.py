"""The outbox and spool gauges read the backlog, not the table.

Every worker refreshes them every few seconds, and both tables keep every row (delivered
events; processed deliveries, for ``replay --renormalize``): a query whose cost grows with the
table (a scan of all of it, as the outbox's one aggregate with ``FILTER`` was) would grow with
the service's age. PostgreSQL's own plan says which rows each statement read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.events import SqlEventStore
from adapters_db.inbox import SqlEventInbox
from integration_core.events import QueueStats

from .sql_statements import plan_nodes, recorded_statements

DONE = 10_000
# 5 pending, 2 dead (failed), the rest done, in each table.
_EVENTS = text(
    "INSERT INTO events (id, channel, dedupe_key, type, tenant_id, integration_id,"
    " status, attempts, occurred_at, received_at, data)"
    " SELECT 'evt_' || g, 'whatsapp', 'k' || g, 'message.received', 't1', 'int_1',"
    "  CASE WHEN g <= 5 THEN 'pending' WHEN g <= 7 THEN 'dead' ELSE 'delivered' END,"
    "  1, now(), now() - make_interval(secs => g), '{}'"
    " FROM generate_series(1, :rows) AS g"
)
_DELIVERIES = text(
    "INSERT INTO inbound_events (id, channel, received_at, body, headers, query, state)"
    " SELECT 'in_' || g, 'whatsapp', now() - make_interval(secs => g), '', '{}', '{}',"
    "  CASE WHEN g <= 5 THEN 'pending' WHEN g <= 7 THEN 'failed' ELSE 'processed' END"
    " FROM generate_series(1, :rows) AS g"
)


async def _fill(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(_EVENTS, {"rows": DONE + 7})
        await conn.execute(_DELIVERIES, {"rows": DONE + 7})
        await conn.execute(text("ANALYZE events, inbound_events"))


def _scans(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    return (node for node in plan_nodes(plan) if "Scan" in node["Node Type"])


def _rows_read(plan: Mapping[str, Any]) -> float:
    """Rows the scans of *plan* returned or read and threw away, over all their loops."""
    return float(
        sum(
            (scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0)) * scan["Actual Loops"]
            for scan in _scans(plan)
        )
    )


def _outbox(engine: AsyncEngine) -> Callable[[], Awaitable[QueueStats]]:
    return SqlEventStore(engine=engine, group_commit=False).stats


def _spool(engine: AsyncEngine) -> Callable[[], Awaitable[QueueStats]]:
    return SqlEventInbox(engine=engine, group_commit=False).spool_stats


@pytest.mark.parametrize("gauges", [_outbox, _spool], ids=["outbox", "spool"])
async def test_the_gauges_read_only_pending_and_dead_rows(
    postgres_engine: AsyncEngine,
    gauges: Callable[[AsyncEngine], Callable[[], Awaitable[QueueStats]]],
) -> None:
    await _fill(postgres_engine)
    with recorded_statements(postgres_engine) as statements:
        stats = await gauges(postgres_engine)()

    assert (stats.pending, stats.dead) == (5, 2)
    assert statements
    async with postgres_engine.connect() as conn:
        for statement, parameters in statements:
            explained = await conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
            )
            [[document]] = explained.all()
            read = _rows_read(document[0]["Plan"])
            assert read < 100, f"{statement!r} read {read:.0f} rows of a table of {DONE + 7}"
