"""The background loop that applies stored Mercado Pago notifications, and its metrics.

Notifications are answered ``200`` as soon as they are stored; this loop then fetches what each
one names from Mercado Pago and applies it. Like the forwarding workers it survives a database
outage (it backs off and tries again: the notifications are safe in their inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from integration_core.errors import StorageUnavailable
from integration_core.use_cases.payment_notifications import (
    Outcome,
    Processed,
    ProcessPaymentNotifications,
)
from integration_service.logging import get_logger
from integration_service.workers import Backoff

_LOGGER: Final = "integration_service.payment_worker"


class NotificationMetrics:
    """Notifications by processing outcome, on *registry*."""

    def __init__(self, *, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "integration_payment_notifications_total",
            "Mercado Pago notifications processed, by outcome (updated, unchanged, stale, "
            "linked, mismatch, retry, unknown, failed).",
            ("outcome",),
            registry=registry,
        )
        for outcome in Outcome:
            self.processed.labels(outcome=outcome.value)

    def observe(self, processed: Iterable[Processed]) -> None:
        """Count each processed notification by its outcome."""
        for item in processed:
            self.processed.labels(outcome=item.outcome.value).inc()


class NotificationWorker:
    """Run :meth:`ProcessPaymentNotifications.run_once` until *stop* is set."""

    def __init__(
        self,
        *,
        process: ProcessPaymentNotifications,
        metrics: NotificationMetrics,
        poll_interval: float,
    ) -> None:
        self._process = process
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._log = get_logger(_LOGGER)

    async def run(self, stop: asyncio.Event) -> None:
        """Process batches until *stop* is set; never raise for a failing database."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                processed = await self._process.run_once()
            except StorageUnavailable:
                delay = backoff.failed()
                self._log.warning("notifications_storage_unavailable", retry_in_seconds=delay)
                await _sleep(stop, delay)
                continue
            except Exception:  # noqa: BLE001 - a bug must not end processing for good
                delay = backoff.failed()
                self._log.exception("notifications_batch_failed", retry_in_seconds=delay)
                await _sleep(stop, delay)
                continue
            backoff.succeeded()
            self._metrics.observe(processed)
            for item in processed:
                self._log.info(
                    "payment_notification_processed",
                    notification_id=item.notification_id,
                    outcome=item.outcome.value,
                )
            if len(processed) >= self._process.batch_size:
                await asyncio.sleep(0)
                continue
            await _sleep(stop, self._poll_interval)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
