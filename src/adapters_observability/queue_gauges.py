"""The gauges of a queue kept in the database: how many wait, how many failed, the oldest wait.

The outbox and the webhook spool are both read as a :class:`QueueStats` and shown the same way;
only their names (a contract with the alert rules) differ.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge

from integration_core.events import QueueStats


class QueueGauges:
    """Show one queue's :class:`QueueStats` on *registry*; each gauge given as ``(name, help)``."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry,
        waiting: tuple[str, str],
        failed: tuple[str, str],
        oldest_age: tuple[str, str],
    ) -> None:
        self.waiting = Gauge(*waiting, registry=registry)
        self.failed = Gauge(*failed, registry=registry)
        self.oldest_age = Gauge(*oldest_age, registry=registry)

    def show(self, stats: QueueStats, *, now: datetime) -> None:
        """Set the gauges from *stats* read at *now*; the age is 0 when nothing waits."""
        self.waiting.set(stats.pending)
        self.failed.set(stats.dead)
        oldest = stats.oldest_pending_at
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        self.oldest_age.set(max(age, 0.0))
