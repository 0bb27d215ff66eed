"""What a test's code sent to the database, and what PostgreSQL's plans say it read.

Shared by the tests that hold a statement's cost down (the gauges, the claims) and the one that
proves an unverified webhook issues none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def recorded_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Collect ``(statement, parameters)`` of everything *engine* sends inside the block."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def plan_nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Yield *node* of an ``EXPLAIN (FORMAT JSON)`` plan and every node below it."""
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)
