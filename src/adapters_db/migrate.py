"""Apply the Alembic migrations shipped in this package, from code (no ``alembic.ini``).

``integration-service migrate`` and ``serve`` (unless ``AUTO_MIGRATE=false``) call
:func:`migrate`; any number of replicas may start at once: on PostgreSQL they queue on an
advisory lock and on SQLite on the write lock, so the first migrates and the rest find the
schema at head. Both locks are taken before Alembic runs, which matters: Alembic keeps its
``context``/``op`` in module globals, so two upgrades must never interleave in one process.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# pg_advisory_xact_lock key: crc32(b"integration-service migrations"), fixed so every replica
# (and every version of the service) contends for the same lock.
_LOCK_KEY = 0x2C5A_74E8


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database to the newest revision; a database already there is left alone.

    Runs in one transaction (DDL is transactional on both PostgreSQL and SQLite), so a failed
    migration leaves the schema as it was. Raises :class:`StorageUnavailable` if the database
    cannot be reached.
    """
    with storage_errors():
        async with for_writing(engine).begin() as conn:
            if is_postgres(engine):
                # Released at commit: the next replica then sees the new alembic_version row.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the database's revision, or ``None`` for a database never migrated."""
    with storage_errors():
        async with engine.connect() as conn:
            return await conn.run_sync(_current_revision)


def head_revision() -> str:
    """Return the newest revision this package ships."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one revision
    return head


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": escape it in case the install path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
