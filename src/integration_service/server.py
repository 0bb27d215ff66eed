"""Run one service process in its role until SIGTERM or SIGINT, then stop gracefully.

Start-up order matters: the listener opens *before* migrations finish, so an orchestrator's
health probe gets an answer (``503`` while the database is down) instead of a refused
connection, and a database that is down at start is retried with backoff rather than crashing
the process into a restart loop. Shutdown stops accepting connections and lets in-flight
requests and the workers' batches in hand finish (together, up to ``SHUTDOWN_TIMEOUT``), then
closes the engine, the HTTP client session and every other resource.

Migrations: while ``serve`` is still migrating (or waiting for the database to come back), the
:class:`~adapters_db.health.MigrationProbe` makes health and readiness answer ``503``. A
``--role worker`` process never migrates (the ``api`` processes do); it waits for the schema to
reach this version's head before claiming any work, since its queries assume that schema. Its
HTTP listener (:func:`adapters_http.app.create_ops_app`) answers only health, readiness and
metrics: an orchestrator still probes it and Prometheus still scrapes the metrics that live in
it alone, while a load balancer that sends platform traffic to it by mistake gets a ``404``,
never a ``200`` for an event it did not store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import Any, Final

import attrs
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.health import MigrationProbe
from adapters_db.migrate import current_revision, head_revision, migrate
from adapters_http import HttpServices
from adapters_http.app import create_app, create_ops_app
from adapters_observability.logging import configure_logging, get_logger
from integration_core.errors import StorageUnavailable
from integration_service.container import (
    Container,
    build_services,
    engine_of,
    open_container,
    resolve,
)
from integration_service.roles import Role
from integration_service.settings import Settings
from integration_service.workers import Workers

_LOGGER = "integration_service.server"
_MIGRATION_LOGGER: Final = "integration_service.migration"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_FIRST_RETRY_SECONDS = 1.0
_MAX_RETRY_SECONDS = 30.0
_SCHEMA_POLL_SECONDS = 1.0


async def serve(settings: Settings, role: Role = Role.ALL) -> None:
    """Serve on ``HOST:PORT`` in *role* until SIGTERM/SIGINT; return once everything is closed."""
    configure_logging(settings.log_level)
    settings = attrs.evolve(
        settings, messaging=settings.messaging.for_process(serves_api=role.serves_api)
    )
    log = get_logger(_LOGGER)
    for warning in settings.warnings():
        log.warning(warning, startup_warning=True)
    # Where credentials live and which checkout buyers see: the choices to confirm first.
    log.info("configuration", role=role.value, **settings.summary())
    stop = _stop_on_signals()
    try:
        async with open_container(settings) as container:
            await _serve(container, settings, role, stop)
    finally:
        _restore_signals()
        log.info("stopped")


async def _serve(container: Container, settings: Settings, role: Role, stop: asyncio.Event) -> None:
    log = get_logger(_LOGGER)
    workers = Workers()
    migrations: asyncio.Task[None] | None = None
    timeout = settings.server.shutdown_timeout.total_seconds()
    runner = web.AppRunner(
        _app(await build_services(container), role),
        handle_signals=False,
        # Our access log middleware logs each request; aiohttp's own would duplicate it.
        access_log=None,
        shutdown_timeout=timeout,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.server.host, settings.server.port).start()
        log.info(
            "listening",
            host=settings.server.host,
            port=settings.server.port,
            role=role.value,
            environment=settings.environment.value,
            database=settings.database.display_url,
        )
        if role.serves_api and settings.database.auto_migrate:
            engine = await engine_of(container)
            probe = await resolve(container.migrations)
            migrations = asyncio.create_task(migrate_until_done(engine, probe))
        elif role.serves_api:
            log.info("auto_migrate_disabled")
        if role.runs_workers:
            await start_workers(container, settings, workers)
        _settle_garbage_collector()
        await stop.wait()
        log.info("shutting_down", timeout_seconds=timeout)
    finally:
        if migrations is not None:
            migrations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await migrations
        # Stop listening and drain requests while the workers finish their batches.
        await asyncio.gather(runner.cleanup(), workers.stop(timeout))


async def start_workers(container: Container, settings: Settings, workers: Workers) -> None:
    """Start this process's background loops on *workers*: they begin once the schema is ready.

    Without ``MESSAGING_SERVICE_URL`` nothing is forwarded (events stay pending, as the
    start-up warning says), but the outbox gauges still run, so the backlog is visible.
    """
    log = get_logger(_LOGGER)
    engine = await engine_of(container)
    probe = await resolve(container.migrations)
    background = await resolve(container.background)
    for wakeup in background.wakeups:
        workers.wake_on_stop(wakeup)
    if not background.forwarding_workers:
        log.warning("forwarding_disabled", reason="MESSAGING_SERVICE_URL is not set")

    async def run() -> None:
        if not await wait_for_schema(engine, probe, stop=workers.stopping):
            return
        messaging = settings.messaging
        log.info(
            "workers_started",
            forwarding_workers=background.forwarding_workers,
            split_workers=background.split_workers,
            batch_size=messaging.batch_size,
            poll_interval_seconds=messaging.poll_interval.total_seconds(),
        )
        await asyncio.gather(*(loop(workers.stopping) for loop in background.loops))

    workers.start("background", run())


async def migrate_until_done(engine: AsyncEngine, probe: MigrationProbe) -> None:
    """Apply migrations, retrying with capped exponential backoff while the database is down."""
    log = get_logger(_MIGRATION_LOGGER)
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
    log = get_logger(_MIGRATION_LOGGER)
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


def _settle_garbage_collector() -> None:
    """Keep the start-up heap out of the collector's way while serving.

    Every object alive now (modules, the app, pools, compiled statements) lives as long as the
    process; frozen, the full collections that request garbage triggers no longer walk them.
    """
    gc.collect()
    gc.freeze()


def _app(services: HttpServices, role: Role) -> web.Application:
    """Return the full application, or only the operational routes for a worker."""
    return create_app(services) if role.serves_api else create_ops_app(services)


def _stop_on_signals() -> asyncio.Event:
    """Return an event set by the first SIGTERM or SIGINT; a second one kills as usual."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def handle(signum: int, *_: Any) -> None:
        get_logger(_LOGGER).info("signal_received", signal=signal.Signals(signum).name)
        stop.set()
        # Back to the default handlers: a second Ctrl-C or SIGTERM ends a slow drain at once.
        _restore_signals()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, handle, sig)
    return stop


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        loop.remove_signal_handler(sig)
