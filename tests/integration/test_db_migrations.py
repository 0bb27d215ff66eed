"""Migrations build exactly the schema of adapters_db.tables, once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import (
    DatabaseProbe,
    SqlIntegrationStore,
    create_engine,
    current_revision,
    head_revision,
    metadata,
    migrate,
)
from adapters_db.migrate import MIGRATIONS_DIR
from adapters_db.tables import inbound_events, integrations
from integration_core.channels import IntegrationStatus, StatusChange
from integration_core.errors import StorageUnavailable
from integration_core.ids import TenantId


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """Yield an engine on a database with no schema at all (not a clone of the template)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'fresh' / 'db.sqlite'}")
        yield engine
        await engine.dispose()
        return
    url: str = request.getfixturevalue("postgres_url")
    admin: psycopg.Connection[Any] = request.getfixturevalue("postgres_admin")
    name = f"is_m_{secrets.token_hex(6)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    engine = create_engine(sa.make_url(url).set(database=name).render_as_string(False))
    try:
        yield engine
    finally:
        await engine.dispose()
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


async def test_head_is_the_newest_revision() -> None:
    assert head_revision() == "0009"


async def test_migrate_brings_an_empty_database_to_head(empty_engine: AsyncEngine) -> None:
    assert await current_revision(empty_engine) is None

    await migrate(empty_engine)

    assert await current_revision(empty_engine) == head_revision()


async def test_migrating_twice_is_a_no_op(empty_engine: AsyncEngine) -> None:
    await migrate(empty_engine)
    async with empty_engine.begin() as conn:
        await conn.execute(
            inbound_events.insert().values(
                id="inb_1",
                channel="telegram",
                received_at=datetime(2026, 1, 1, tzinfo=UTC),
                body=b"{}",
                headers={},
                query={},
            )
        )

    await migrate(empty_engine)

    assert await current_revision(empty_engine) == head_revision()
    async with empty_engine.connect() as conn:
        count = await conn.scalar(sa.text("SELECT count(*) FROM inbound_events"))
    assert count == 1


async def test_0007_starts_each_existing_integrations_history(empty_engine: AsyncEngine) -> None:
    async with empty_engine.begin() as conn:
        await conn.run_sync(_upgrade_to, "0006")
        for number, status in enumerate(("active", "disabled")):
            await conn.execute(
                integrations.insert().values(
                    id=f"int_{number}",
                    tenant_id="alice",
                    channel="telegram",
                    status=status,
                    external_id=f"bot-{number}",
                    config={},
                    created_at=_CREATED,
                    updated_at=_CREATED,
                    status_changed_at=_CREATED + timedelta(days=number, milliseconds=250),
                )
            )

    await migrate(empty_engine)

    store = SqlIntegrationStore(engine=empty_engine)
    assert list(await store.status_history(TenantId("alice"), "int_0")) == [
        StatusChange(status=IntegrationStatus.ACTIVE, at=_CREATED + timedelta(milliseconds=250))
    ]
    assert list(await store.status_history(TenantId("alice"), "int_1")) == [
        StatusChange(
            status=IntegrationStatus.DISABLED,
            at=_CREATED + timedelta(days=1, milliseconds=250),
        )
    ]


_CREATED = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def _upgrade_to(connection: Connection, revision: str) -> None:
    """Upgrade to *revision* only, as :func:`migrate` does to head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_concurrent_migrations_migrate_once(empty_engine: AsyncEngine) -> None:
    # Replicas starting together, each with its own engine.
    url = empty_engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()

    assert await current_revision(empty_engine) == head_revision()


async def test_the_migrated_schema_is_exactly_the_tables_metadata(
    empty_engine: AsyncEngine,
) -> None:
    await migrate(empty_engine)

    async with empty_engine.connect() as conn:
        differences = await conn.run_sync(_compare)
        columns = await conn.run_sync(_column_differences)

    assert differences == []
    assert columns == []


def _compare(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _column_differences(connection: Connection) -> list[str]:
    """Compare every column's DDL type and nullability, which autogenerate checks loosely.

    (It ignores collations and numeric precision, which our ids and amounts depend on.)
    """
    inspector = sa.inspect(connection)
    dialect = connection.dialect
    found: list[str] = []
    for table in metadata.sorted_tables:
        reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.columns:
            actual = reflected[column.name]
            expected_type = column.type.compile(dialect=dialect)
            actual_type = actual["type"].compile(dialect=dialect)
            if (expected_type, column.nullable) != (actual_type, actual["nullable"]):
                found.append(
                    f"{table.name}.{column.name}: expected {expected_type} "
                    f"nullable={column.nullable}, found {actual_type} "
                    f"nullable={actual['nullable']}"
                )
    return found


# --------------------------------------------------------------------------- health probe


@pytest.fixture(params=["sqlite", "postgres"])
def live_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return an engine on a migrated database that answers."""
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return engine


async def test_the_probe_passes_on_a_live_database(live_engine: AsyncEngine) -> None:
    probe = DatabaseProbe(engine=live_engine)

    await probe.check()

    assert (probe.name, probe.critical) == ("database", True)


# No server is needed to fail to reach one: these ids avoid the "postgres" marker.
@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite_blocked_path", "pg_closed_port"])
def unreachable_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return an engine whose database cannot be reached."""
    engine: AsyncEngine = request.getfixturevalue(f"unreachable_{request.param}_engine")
    return engine


async def test_the_probe_raises_storage_unavailable_for_an_unreachable_database(
    unreachable_engine: AsyncEngine,
) -> None:
    probe = DatabaseProbe(engine=unreachable_engine, name="db", critical=False)

    with pytest.raises(StorageUnavailable) as caught:
        await probe.check()

    assert caught.value.message == StorageUnavailable().message
    assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)


async def test_migrate_raises_storage_unavailable_when_unreachable(
    unreachable_engine: AsyncEngine,
) -> None:
    with pytest.raises(StorageUnavailable):
        await migrate(unreachable_engine)
    with pytest.raises(StorageUnavailable):
        await current_revision(unreachable_engine)
