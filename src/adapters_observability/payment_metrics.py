"""Prometheus metrics of the Mercado Pago notification worker: notifications by outcome.

Registered only in processes that run workers, like the forwarding metrics; every outcome is
exported at 0 from the start so ``rate()`` works before the first notification.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter

from integration_core.use_cases.payment_notifications import NotificationOutcome, Processed


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
        for outcome in NotificationOutcome:
            self.processed.labels(outcome=outcome.value)

    def observe(self, processed: Iterable[Processed]) -> None:
        """Count each processed notification by its outcome."""
        for item in processed:
            self.processed.labels(outcome=item.outcome.value).inc()
