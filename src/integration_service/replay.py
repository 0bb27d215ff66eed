"""``integration-service replay``: the core's replay use case over the configured database.

What is replayed and how: :mod:`integration_core.use_cases.replay` (the API's replay route uses
the same use case).
"""

from __future__ import annotations

from adapters_observability.logging import configure_logging
from integration_core.use_cases.replay import ReplayResult, Selection
from integration_service.container import Container, resolve, shutdown
from integration_service.settings import Settings

__all__ = ["ReplayResult", "Selection", "run_replay"]


async def run_replay(settings: Settings, selection: Selection) -> ReplayResult:
    """Replay *selection* against the configured database (never migrating it)."""
    # Logs go to stderr, so stdout holds only the summary for scripts.
    configure_logging(settings.log_level, stream="stderr")
    container = Container(settings=settings)
    try:
        replay = await resolve(container.replay_events)
        return await replay(selection)
    finally:
        await shutdown(container)
