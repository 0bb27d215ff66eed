"""Build the one async engine of the service, tuned for PostgreSQL or SQLite.

SQLite gets the settings that make it a sound single-host database: WAL (readers never block the
writer), a busy timeout (writers queue instead of failing), enforced foreign keys, explicit
``BEGIN``/``BEGIN IMMEDIATE`` so every transaction is real and writers serialize up front, and
``synchronous=FULL``, so a commit that precedes a ``200`` survives a power loss.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from integration_core.errors import ConfigurationError

POSTGRES_DRIVER = "postgresql+psycopg"
SQLITE_DRIVER = "sqlite+aiosqlite"
_DRIVERS = {"postgres": POSTGRES_DRIVER, "postgresql": POSTGRES_DRIVER, "sqlite": SQLITE_DRIVER}
_SCHEME = re.compile(r"[A-Za-z][\w+.-]*")

# Set on a connection (see for_writing) to open its transaction with BEGIN IMMEDIATE on SQLite.
_WRITE_OPTION = "adapters_db_write"

# busy_timeout first, so everything after it waits for locks rather than failing at once.
_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    # FULL: the WAL is fsynced at every commit. NORMAL (syncing only at checkpoints) can lose
    # the last commits on power loss, after their 200 was sent. Its cost: docs/configuration.md.
    "PRAGMA synchronous=FULL",
)


def database_url(url: str) -> str:
    """Return *url* with the async driver this service ships for its database.

    ``postgres://`` and ``postgresql://`` (with any driver, say ``+psycopg2`` copied from
    another tool) become ``postgresql+psycopg://``; ``sqlite:///x`` becomes
    ``sqlite+aiosqlite:///x``; the rest is kept as written, so one value works for ``psql`` and
    the service. Raises :class:`ConfigurationError` for a URL that is not PostgreSQL or SQLite,
    its message the ``DATABASE_URL: ...`` line settings report (also its one problem), which
    names at most the scheme: the rest may hold a password.
    """
    scheme, separator, rest = url.strip().partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        raise _refused("must be a URL such as postgresql://user:pass@host/db")
    driver = _DRIVERS.get(scheme.lower().partition("+")[0])
    if driver is None:
        raise _refused(f"unsupported scheme {scheme!r} (use postgresql:// or sqlite:///)")
    normalized = f"{driver}://{rest}"
    try:
        make_url(normalized)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise _refused("must be a URL such as postgresql://user:pass@host/db") from None
    return normalized


def _refused(problem: str) -> ConfigurationError:
    line = f"DATABASE_URL: {problem}"
    return ConfigurationError(line, problems=(line,))


def create_engine(
    url: str, *, pool_size: int = 20, connect_timeout: int = 10, autocommit: bool = False
) -> AsyncEngine:
    """Return an async engine for *url* (normalized with :func:`database_url`).

    PostgreSQL: a pre-pinged pool of *pool_size* connections that gives up connecting after
    *connect_timeout* seconds. No overflow: an overflow connection is opened for a burst and
    closed when returned, and under a webhook burst that churn (a new backend per request)
    cost more than waiting a moment for a pooled connection (seen in benchmarks/ingest.py).
    *autocommit* (PostgreSQL): each statement is its own transaction and checkouts are not
    pinged, for a writer whose every write is one statement (the spool's ``COPY``): two round
    trips a batch instead of five, and a dead connection costs one refused batch, which the
    platforms retry.
    SQLite: the file's directory is created and every connection gets WAL, a 5 s busy
    timeout, foreign keys, ``synchronous=FULL`` and explicit transactions.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        _create_parent_directory(parsed.database)
        engine = create_async_engine(parsed)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"application_name": "integration-service"}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout
    if autocommit:
        return create_async_engine(
            parsed,
            isolation_level="AUTOCOMMIT",
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=connect_timeout,
            pool_recycle=1800,
            connect_args=connect_args,
        )
    return create_async_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=connect_timeout,
        # Recycle before common proxy/firewall idle cut-offs drop connections silently.
        pool_recycle=1800,
        connect_args=connect_args,
    )


def is_postgres(bind: AsyncEngine | AsyncConnection) -> bool:
    """Tell whether *bind* (an engine or one of its connections) talks to PostgreSQL (else
    SQLite)."""
    return bind.dialect.name == "postgresql"


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """Return *engine* marked for write transactions, sharing its pool.

    On SQLite its transactions start with ``BEGIN IMMEDIATE``: the write lock is taken (waiting
    up to the busy timeout) before the first read, so a read-then-write transaction can never
    fail halfway because another writer committed first. PostgreSQL ignores the mark.
    """
    return engine.execution_options(**{_WRITE_OPTION: True})


def _create_parent_directory(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # An unusable directory is reported on first connect, as StorageUnavailable, where every
    # caller already handles a database that cannot be reached.
    with contextlib.suppress(OSError):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, which BEGINs lazily and only
    # before DML; _on_sqlite_begin emits our own BEGIN for every transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        # WAL is a property of the file: switch it once; later connections only read the mode.
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # Connections opening a brand-new file race to switch it, and SQLite refuses
                # the losers at once. The winner's switch applies to every connection, and
                # the mode only tunes concurrency, never correctness: carry on.
                if getattr(exc, "sqlite_errorname", None) != "SQLITE_BUSY":
                    raise
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
