"""Run one service process in its role until SIGTERM or SIGINT, then stop gracefully.

Start-up order matters: the listener opens *before* migrations finish, so an orchestrator's
health probe gets an answer (``503`` while the database is down) instead of a refused
connection, and a database that is down at start is retried with backoff rather than crashing
the process into a restart loop. Shutdown stops accepting connections and lets in-flight
requests and the workers' batches in hand finish (together, up to ``SHUTDOWN_TIMEOUT``), then
closes the engine, the HTTP client session and every other resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import Any

from aiohttp import web

from adapters_http.app import create_app
from adapters_http.services import HttpServices
from adapters_observability.logging import configure_logging, get_logger
from integration_service.container import (
    Container,
    build_services,
    engine_of,
    resolve,
    shutdown,
)
from integration_service.migration import migrate_until_done
from integration_service.ops_app import create_ops_app
from integration_service.roles import Role, start_workers
from integration_service.settings import Settings
from integration_service.workers import Workers

_LOGGER = "integration_service.server"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(settings: Settings, role: Role = Role.ALL) -> None:
    """Serve on ``HOST:PORT`` in *role* until SIGTERM/SIGINT; return once everything is closed."""
    configure_logging(settings.log_level)
    log = get_logger(_LOGGER)
    for warning in settings.warnings():
        log.warning(warning, startup_warning=True)
    # Where credentials live and which checkout buyers see: the choices to confirm first.
    log.info("configuration", role=role.value, **settings.summary())
    stop = _stop_on_signals()
    container = Container(settings=settings)
    workers = Workers()
    migrations: asyncio.Task[None] | None = None
    timeout = settings.server.shutdown_timeout.total_seconds()
    try:
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
    finally:
        await shutdown(container)
        _restore_signals()
        log.info("stopped")


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
