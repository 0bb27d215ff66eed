"""Fixtures shared by the whole suite: real, migrated databases for the adapter tests.

PostgreSQL tests stay fast by migrating once per session into a template database and cloning
it (``CREATE DATABASE ... TEMPLATE``) for the tests (see :class:`PostgresClones`); SQLite tests
copy a migrated file. Every test that touches PostgreSQL (a ``postgres*`` fixture, or a
``postgres`` parameter) is marked ``postgres``, so ``pytest -m "not postgres"`` runs without a
server. A PostgreSQL test without a reachable ``TEST_POSTGRES_URL`` fails, loudly: it is never
silently skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import create_engine, database_url, metadata, migrate

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"

T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL with ``postgres``."""
    for item in items:
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)


def _uses_postgres(item: pytest.Item) -> bool:
    if any(name.startswith("postgres") for name in getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgres" in callspec.id.split("-")


# --------------------------------------------------------------------------- helpers


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* to completion on its own loop, in a worker thread.

    Session fixtures use it for one-off async work without tying anything to a test's loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def with_database(url: str, database: str) -> str:
    """Return *url* (any PostgreSQL flavour) pointing at *database*, as an async-driver URL."""
    return make_url(database_url(url)).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str, database: str | None = None) -> str:
    """Return *url* as a libpq URL for psycopg (no ``+driver``), optionally for *database*."""
    parsed = make_url(database_url(url)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Return the PostgreSQL server URL of ``TEST_POSTGRES_URL``; fail if unset or unreachable."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.fail(
            f"this test needs PostgreSQL: set {POSTGRES_URL_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres), "
            'or deselect PostgreSQL tests with -m "not postgres"',
            pytrace=False,
        )
    try:
        psycopg.connect(libpq_url(url), connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"this test needs PostgreSQL, but {POSTGRES_URL_ENV} cannot be reached "
            f"({type(exc).__name__}: {exc})",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """Yield an autocommit connection to the server, for creating and dropping databases."""
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str, postgres_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """Yield the name of a migrated template database, unique to this test session."""
    name = f"is_tpl_{os.getpid()}"
    _drop_database(postgres_admin, name)
    postgres_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run_async(_migrate_url(with_database(postgres_url, name)))
        yield name
    finally:
        _drop_database(postgres_admin, name)


class PostgresClones:
    """Hand each test a clone of the template database: migrated, empty, its own.

    Clones are made with ``CREATE DATABASE ... TEMPLATE``; after a test, a clone is emptied
    and handed to the next test rather than dropped: ``DROP DATABASE`` forces a checkpoint of
    the whole server, which costs seconds on a busy machine, so the few clones are dropped
    once, at the end of the session. A clone whose tables a test changed is dropped instead of
    reused; a test that changes the schema should use a database of its own.
    """

    def __init__(self, url: str, template: str) -> None:
        self._url = url
        self._template = template
        # Children before parents, so the foreign keys never object.
        self._tables = [table.name for table in reversed(metadata.sorted_tables)]
        self._free: list[str] = []
        self._made: list[str] = []

    def take(self) -> str:
        """Return the name of an empty clone nobody else is using."""
        if self._free:
            return self._free.pop()
        name = f"is_t_{secrets.token_hex(6)}"
        with psycopg.connect(libpq_url(self._url), autocommit=True) as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self._template)
                )
            )
        self._made.append(name)
        return name

    def give_back(self, name: str) -> None:
        """Empty the clone *name* for the next test, or drop it if it cannot be reused."""
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(libpq_url(self._url, name)) as conn,
        ):
            conn.execute("SET lock_timeout = '10s'")
            found = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
            if {row[0] for row in found} == set(self._tables):
                # DELETE, not TRUNCATE: on tables this small it is ~30 times faster.
                for table in self._tables:
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                conn.commit()
                self._free.append(name)
                return
        self._made.remove(name)
        self._drop(name)

    def close(self) -> None:
        """Drop every clone."""
        for name in self._made:
            self._drop(name)
        self._made.clear()
        self._free.clear()

    def _drop(self, name: str) -> None:
        with psycopg.connect(libpq_url(self._url), autocommit=True) as admin:
            _drop_database(admin, name)


@pytest.fixture(scope="session")
def postgres_clones(postgres_url: str, postgres_template: str) -> Iterator[PostgresClones]:
    """Yield the session's supply of empty clones of the template database."""
    clones = PostgresClones(postgres_url, postgres_template)
    try:
        yield clones
    finally:
        clones.close()


@pytest.fixture
async def postgres_engine(
    postgres_url: str, postgres_clones: PostgresClones
) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a migrated, empty PostgreSQL database of this test alone."""
    name = postgres_clones.take()
    engine = create_engine(with_database(postgres_url, name))
    try:
        yield engine
    finally:
        await engine.dispose()
        postgres_clones.give_back(name)


def _drop_database(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated SQLite database file to copy (closed, its WAL checkpointed)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    run_async(_migrate_url(f"sqlite:///{path}"))
    return path


@pytest.fixture
async def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a fresh, migrated SQLite file of this test."""
    path = tmp_path / "db" / "test.sqlite"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- unreachable


@pytest.fixture
async def unreachable_sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """Yield a SQLite engine whose file cannot be opened: it would live below a regular file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    threads = set(threading.enumerate())
    engine = create_engine(f"sqlite:///{blocker / 'db.sqlite'}")
    try:
        yield engine
    finally:
        await engine.dispose()
        await _join_new_aiosqlite_threads(threads)


@pytest.fixture
async def unreachable_postgres_engine() -> AsyncIterator[AsyncEngine]:
    """Yield a PostgreSQL engine on a port nothing listens on (needs no server)."""
    engine = create_engine("postgresql://postgres@127.0.0.1:1/unreachable?connect_timeout=2")
    try:
        yield engine
    finally:
        await engine.dispose()


async def _join_new_aiosqlite_threads(before: set[threading.Thread]) -> None:
    # After a failed connect, aiosqlite stops its worker thread without awaiting it; the thread
    # then reports to the event loop, which must still be open (else "Event loop is closed").
    for thread in set(threading.enumerate()) - before:
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)
