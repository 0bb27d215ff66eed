"""Check that the database answers (the ``HealthProbe`` for ``GET /api/v1/health``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.errors import storage_errors


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
