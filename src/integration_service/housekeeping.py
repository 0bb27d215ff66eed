"""Purge idempotency records past their retention, from the worker processes.

A setup's ``Idempotency-Key`` is honoured for :data:`KEPT_FOR`; after that a repeat is a new
request and its record is never read again, so keeping it only grows ``idempotency_records``.
Any number of workers may run this loop at once: the purge is one ``DELETE`` by creation time,
so two running together only repeat each other's work.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Final

from adapters_observability.logging import get_logger
from integration_core.errors import StorageUnavailable
from integration_core.ports import Clock, IdempotencyStore
from integration_core.use_cases.setup_idempotency import KEPT_FOR

_LOGGER: Final = "integration_service.housekeeping"
PURGE_INTERVAL_SECONDS: Final = 3600.0


async def purge_idempotency_records(
    *,
    store: IdempotencyStore,
    clock: Clock,
    stop: asyncio.Event,
    kept_for: timedelta = KEPT_FOR,
    interval: float = PURGE_INTERVAL_SECONDS,
) -> None:
    """Purge records older than *kept_for* now and every *interval* seconds until *stop*.

    A failing database never ends the loop: the records wait for the next pass.
    """
    log = get_logger(_LOGGER)
    while not stop.is_set():
        try:
            purged = await store.purge(created_before=clock.now() - kept_for)
        except StorageUnavailable:
            log.warning("idempotency_purge_storage_unavailable", retry_in_seconds=interval)
        except Exception:  # a purge is never worth a dead task: log and try again later
            log.exception("idempotency_purge_failed", retry_in_seconds=interval)
        else:
            if purged:
                log.info("idempotency_records_purged", count=purged)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
