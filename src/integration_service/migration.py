"""Apply database migrations: once for ``migrate``, retrying for ``serve``.

While ``serve`` is still migrating (or waiting for the database to come back), the
:class:`MigrationProbe` makes health and readiness answer ``503``, so an orchestrator routes
no traffic to a process whose schema is not there yet. A ``--role worker`` process never
migrates (the ``api`` processes do); it waits for the schema to reach this version's head
before claiming any event, since its queries assume that schema.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.engine import create_engine
from adapters_db.migrate import current_revision, head_revision, migrate
from adapters_observability.logging import configure_logging, get_logger
from integration_core.errors import StorageUnavailable
from integration_service.settings import Settings

_LOGGER = "integration_service.migration"
_FIRST_RETRY_SECONDS = 1.0
_MAX_RETRY_SECONDS = 30.0
_SCHEMA_POLL_SECONDS = 1.0


class MigrationProbe:
    """A critical health probe that fails until the migrations at start have been applied."""

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


async def migrate_once(settings: Settings) -> str | None:
    """Upgrade the database to the newest revision and return the revision it is at."""
    # Alembic's progress goes to stderr, so stdout holds only the revision for scripts.
    configure_logging(settings.log_level, stream="stderr")
    engine = create_engine(settings.database.url.reveal())
    try:
        await migrate(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def migrate_until_done(engine: AsyncEngine, probe: MigrationProbe) -> None:
    """Apply migrations, retrying with capped exponential backoff while the database is down."""
    log = get_logger(_LOGGER)
    delay = _FIRST_RETRY_SECONDS
    attempt = 1
    while True:
        try:
            await migrate(engine)
            probe.mark_applied()
            log.info("migrations_applied", revision=await current_revision(engine))
        except StorageUnavailable:
            log.warning(
                "database_unavailable_retrying",
                attempt=attempt,
                retry_in_seconds=delay,
                hint="GET /api/v1/health answers 503 until the database is back",
            )
        except Exception:  # a failed migration must not kill a serving process: log, retry
            log.exception("migration_failed_retrying", attempt=attempt, retry_in_seconds=delay)
        if probe.applied:
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_RETRY_SECONDS)
        attempt += 1


async def wait_for_schema(
    engine: AsyncEngine,
    probe: MigrationProbe,
    *,
    stop: asyncio.Event,
    poll_seconds: float = _SCHEMA_POLL_SECONDS,
) -> bool:
    """Wait until the database is at this version's head revision; ``False`` if *stop* came first.

    Marks *probe* applied once it is, so a worker's health turns ``200`` when it can work.
    """
    log = get_logger(_LOGGER)
    head = head_revision()
    announced = False
    while not stop.is_set():
        try:
            current = await current_revision(engine)
        except StorageUnavailable:
            current = None
        if current == head:
            probe.mark_applied()
            log.info("schema_ready", revision=head)
            return True
        if not announced:
            # Once: a worker started before the api processes migrated is normal, not alarming.
            log.info("waiting_for_migrations", current_revision=current, head_revision=head)
            announced = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
    return False
