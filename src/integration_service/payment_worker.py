"""The background loop that applies stored Mercado Pago notifications, and its metrics.

Notifications are answered ``200`` as soon as they are stored; this loop then fetches what each
one names from Mercado Pago and applies it. Like the forwarding workers it survives a database
outage (it backs off and tries again: the notifications are safe in their inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from adapters_observability.logging import get_logger
from adapters_observability.payment_metrics import NotificationMetrics
from integration_core.errors import StorageUnavailable
from integration_core.use_cases.payment_notifications import ProcessPaymentNotifications
from integration_service.workers import Backoff

_LOGGER: Final = "integration_service.payment_worker"


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
