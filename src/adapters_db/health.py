"""Check that the database answers and has its schema: ``HealthProbe``s for ``/api/v1/health``."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.errors import storage_errors
from integration_core.errors import StorageUnavailable


class DatabaseProbe:
    """Run ``SELECT 1``; a database that does not answer makes the service unhealthy."""

    def __init__(
        self, *, engine: AsyncEngine, name: str = "database", critical: bool = True
    ) -> None:
        self.name = name
        self.critical = critical
        self._engine = engine

    async def check(self) -> None:
        """Return if the database answers; raise :class:`StorageUnavailable` if not."""
        with storage_errors():
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))


class MigrationProbe:
    """A critical health probe that fails until the migrations at start have been applied.

    While ``serve`` is still migrating (or waiting for the database to come back), health and
    readiness answer ``503``, so an orchestrator routes no traffic to a process whose schema is
    not there yet (whoever migrates marks it applied).
    """

    name = "migrations"
    critical = True

    def __init__(self, *, applied: bool = False) -> None:
        self._applied = applied

    @property
    def applied(self) -> bool:
        """Tell whether the schema is known to be up to date."""
        return self._applied

    def mark_applied(self) -> None:
        """Record that the migrations are done; the probe passes from now on."""
        self._applied = True

    async def check(self) -> None:
        """Return once migrated; raise :class:`StorageUnavailable` before."""
        if not self._applied:
            raise StorageUnavailable("database migrations have not been applied yet")
