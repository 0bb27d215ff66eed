"""Run the HTTP service until SIGTERM or SIGINT, then stop gracefully.

Start-up order matters: the listener opens *before* migrations finish, so an orchestrator's
health probe gets an answer (``503`` while the database is down) instead of a refused
connection, and a database that is down at start is retried with backoff rather than crashing
the process into a restart loop. Shutdown stops accepting connections, lets in-flight requests
finish (up to ``SHUTDOWN_TIMEOUT``), then closes the engine and every other resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from aiohttp import web

from adapters_http.app import create_app
from integration_service.container import (
    Container,
    build_services,
    engine_of,
    resolve,
    shutdown,
)
from integration_service.logging import configure_logging, get_logger
from integration_service.migration import migrate_until_done
from integration_service.settings import Settings

_LOGGER = "integration_service.server"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(settings: Settings) -> None:
    """Serve HTTP on ``HOST:PORT`` until SIGTERM/SIGINT; return once everything is closed."""
    configure_logging(settings.log_level)
    log = get_logger(_LOGGER)
    for warning in settings.warnings():
        log.warning(warning, startup_warning=True)
    stop = _stop_on_signals()
    container = Container(settings=settings)
    migrations: asyncio.Task[None] | None = None
    try:
        runner = web.AppRunner(
            create_app(await build_services(container)),
            handle_signals=False,
            # Our access log middleware logs each request; aiohttp's own would duplicate it.
            access_log=None,
            shutdown_timeout=settings.server.shutdown_timeout.total_seconds(),
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.server.host, settings.server.port).start()
            log.info(
                "listening",
                host=settings.server.host,
                port=settings.server.port,
                environment=settings.environment.value,
                database=settings.database.display_url,
            )
            if settings.database.auto_migrate:
                engine = await engine_of(container)
                probe = await resolve(container.migrations)
                migrations = asyncio.create_task(migrate_until_done(engine, probe))
            else:
                log.info("auto_migrate_disabled")
            await stop.wait()
            log.info(
                "shutting_down", timeout_seconds=settings.server.shutdown_timeout.total_seconds()
            )
        finally:
            if migrations is not None:
                migrations.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await migrations
            # Stops listening, then waits for in-flight requests up to the shutdown timeout.
            await runner.cleanup()
    finally:
        await shutdown(container)
        _restore_signals()
        log.info("stopped")


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
