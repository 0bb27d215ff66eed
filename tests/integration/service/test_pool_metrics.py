"""The database pool gauges, read from a real pool when scraped (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters_db.engine import create_engine
from adapters_observability.pool_metrics import PoolMetrics

NAMES = ("size", "checked_out", "overflow", "waiting")


def gauges(registry: CollectorRegistry) -> dict[str, float | None]:
    return {name: registry.get_sample_value(f"integration_db_pool_{name}") for name in NAMES}


async def hold(engine: AsyncEngine, release: asyncio.Event) -> None:
    async with engine.connect() as connection:
        await connection.exec_driver_sql("SELECT 1")
        await release.wait()


async def until(check: Callable[[], bool]) -> None:
    """Wait (up to 10 s) for *check*; the pool's state changes as the tasks run."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polling the pool: it signals no event we can await
            await asyncio.sleep(0.01)


async def exhaust(engine: AsyncEngine, holders: int, expected: dict[str, float | None]) -> None:
    """Hold *holders* connections of *engine* and check the gauges see *expected*, then 0."""
    registry = CollectorRegistry()
    PoolMetrics(registry=registry, engine=engine)
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(engine, release)) for _ in range(holders)]
    try:
        await until(lambda: gauges(registry) == expected)
    finally:
        release.set()
        await asyncio.gather(*tasks)
    after = gauges(registry)
    assert after["checked_out"] == 0
    assert after["waiting"] == 0


async def test_sqlite_pool_size_use_overflow_and_waiting(tmp_path: Path) -> None:
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=1
    )
    registry = CollectorRegistry()
    PoolMetrics(registry=registry, engine=engine)
    try:
        # Nothing opened yet: SQLAlchemy's own overflow() is -1 here, never shown.
        assert gauges(registry) == {"size": 1, "checked_out": 0, "overflow": 0, "waiting": 0}
        # Three want a connection: one pooled, one overflow, the third waits.
        await exhaust(engine, 3, {"size": 1, "checked_out": 2, "overflow": 1, "waiting": 1})
    finally:
        await engine.dispose()


async def test_postgres_pool_of_the_service_reports_waiting_tasks(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=2)
    try:
        await exhaust(engine, 5, {"size": 2, "checked_out": 2, "overflow": 0, "waiting": 3})
    finally:
        await engine.dispose()
