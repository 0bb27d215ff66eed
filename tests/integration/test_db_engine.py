"""The engine factory and column types behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import create_engine, database_url, for_writing, is_postgres
from adapters_db.tables import Money, UtcDateTime, inbound_events
from integration_core.errors import ConfigurationError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        (
            "postgres://u:p@db/app?sslmode=require",
            "postgresql+psycopg://u:p@db/app?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("postgresql+psycopg2://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite+pysqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("sqlite:///data/app.db", "sqlite+aiosqlite:///data/app.db"),
        ("sqlite:////var/lib/app.db", "sqlite+aiosqlite:////var/lib/app.db"),
        ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("POSTGRESQL://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///my%20app.db", "sqlite+aiosqlite:///my%20app.db"),
    ],
)
def test_database_url_picks_the_async_driver(given: str, expected: str) -> None:
    assert database_url(given) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "mysql://u:hunter2@db/app",
            "unsupported scheme 'mysql' (use postgresql:// or sqlite:///)",
        ),
        ("not a url", "must be a URL such as postgresql://user:pass@host/db"),
        ("", "must be a URL such as postgresql://user:pass@host/db"),
        ("u:hunter2@db://app", "must be a URL such as postgresql://user:pass@host/db"),
        (
            "postgresql://u:hunter2@db:port/app",
            "must be a URL such as postgresql://user:pass@host/db",
        ),
    ],
)
def test_database_url_refuses_other_databases_without_echoing_the_url(
    url: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        database_url(url)

    assert caught.value.problems == (f"DATABASE_URL: {problem}",), "the line settings report"
    assert caught.value.message == f"DATABASE_URL: {problem}"


async def test_a_postgres_engine_has_a_pre_pinged_pool() -> None:
    engine = create_engine("postgres://u@db.invalid/app", pool_size=7)
    try:
        assert is_postgres(engine)
        assert engine.pool.size() == 7  # type: ignore[attr-defined]  # QueuePool.size
        assert engine.pool._pre_ping  # type: ignore[attr-defined]  # no public accessor
    finally:
        await engine.dispose()


async def test_sqlite_engine_creates_the_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "app.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: await conn.scalar(sa.text(f"PRAGMA {name}"))
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        await engine.dispose()

    assert not is_postgres(engine)
    assert path.exists()
    # synchronous 2 is FULL
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "foreign_keys": 1,
        "synchronous": 2,
    }


async def test_sqlite_write_transactions_commit_with_synchronous_full(
    sqlite_engine: AsyncEngine,
) -> None:
    """The commit that precedes a 200 is fsynced: NORMAL in WAL mode may lose it on power loss."""
    async with for_writing(sqlite_engine).begin() as conn:
        await conn.execute(sa.select(inbound_events))
        level = await conn.scalar(sa.text("PRAGMA synchronous"))

    assert level == 2  # FULL


@contextmanager
def other_writer(path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a plain sqlite3 connection to *path* that gives up on a lock at once."""
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


async def test_sqlite_write_transactions_take_the_write_lock_up_front(
    sqlite_engine: AsyncEngine,
) -> None:
    path = Path(str(sqlite_engine.url.database))

    async with for_writing(sqlite_engine).begin():
        # Nothing written yet, and still no other writer may start: BEGIN IMMEDIATE.
        with other_writer(path) as conn, pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("BEGIN IMMEDIATE")

    async with sqlite_engine.begin() as reading:
        await reading.execute(sa.select(inbound_events))
        # A reader (plain BEGIN) leaves writers alone.
        with other_writer(path) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return an engine on a migrated database of each kind."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


async def test_datetimes_are_stored_as_utc_instants(engine: AsyncEngine) -> None:
    sao_paulo = timezone(timedelta(hours=-3))
    local = datetime(2026, 6, 1, 21, 30, 15, 123456, tzinfo=sao_paulo)
    async with engine.begin() as conn:
        await conn.execute(
            inbound_events.insert().values(
                id="inb_1", channel="telegram", received_at=local, body=b"", headers={}, query={}
            )
        )
        stored = await conn.scalar(sa.select(inbound_events.c.received_at))
        later = await conn.scalar(
            sa.select(sa.func.count()).where(inbound_events.c.received_at > local)
        )

    assert stored == local
    assert stored is not None
    assert stored.tzinfo is UTC
    assert stored.isoformat() == "2026-06-02T00:30:15.123456+00:00"
    assert later == 0


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_naive_datetimes_and_float_amounts_are_refused(dialect: Any) -> None:
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), dialect)  # noqa: DTZ001 - on purpose
    with pytest.raises(TypeError, match="Decimal"):
        Money().process_bind_param(1.5, dialect)  # type: ignore[arg-type]  # on purpose
    assert Money().process_bind_param(Decimal("1.50"), dialect) in (Decimal("1.50"), "1.50")
