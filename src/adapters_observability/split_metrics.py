"""Prometheus metrics of the splitting stage: what became of each spooled delivery's events.

``integration_webhook_events_total`` keeps its name and labels from when splitting ran in the
request (the alert rules use it); it is now counted where the events are stored, in processes
that run workers. Every series starts at 0 so ``rate()`` works before the first delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from adapters_observability.queue_gauges import QueueGauges
from integration_core.channels import Channel
from integration_core.events import QueueStats
from integration_core.use_cases.splitting import SplitOutcome, SplitReport

OUTCOMES: Final = ("stored", "duplicate", "ignored", "unroutable")


def outcomes(result: SplitOutcome) -> dict[str, int]:
    """Split a delivery's events into the four outcomes, each event counted exactly once."""
    return {
        "stored": result.stored - result.ignored,
        "duplicate": result.duplicates,
        "ignored": result.ignored - result.unroutable,
        "unroutable": result.unroutable,
    }


class SplitMetrics:
    """Own the splitting metrics on *registry*; one instance per registry."""

    def __init__(self, *, registry: CollectorRegistry, channels: Iterable[Channel]) -> None:
        self.events = Counter(
            "integration_webhook_events_total",
            "Events split from verified webhook deliveries by channel and outcome: stored "
            "(new, queued for forwarding), duplicate (already stored), ignored (new, not "
            "forwarded: integration disabled or not vouched for by the signer), unroutable "
            "(new, no integration owns it).",
            ("channel", "outcome"),
            registry=registry,
        )
        self.failed = Counter(
            "integration_webhook_deliveries_failed_total",
            "Spooled deliveries that could not be split or stored, by channel; each is kept "
            "(state failed) for replay --renormalize.",
            ("channel",),
            registry=registry,
        )
        self.spool = QueueGauges(
            registry=registry,
            waiting=(
                "integration_webhook_spool_pending",
                "Verified deliveries acknowledged and waiting to be split into events.",
            ),
            failed=(
                "integration_webhook_spool_failed",
                "Deliveries kept as failed (could not be split or stored).",
            ),
            oldest_age=(
                "integration_webhook_spool_oldest_age_seconds",
                "Age of the oldest delivery waiting to be split (0 when none waits).",
            ),
        )
        for channel in channels:
            self.failed.labels(channel=channel)
            for outcome in OUTCOMES:
                self.events.labels(channel=channel, outcome=outcome)

    def observe(self, report: SplitReport) -> None:
        """Count the events and failures of one splitting batch."""
        for result in report.outcomes:
            for outcome, count in outcomes(result).items():
                if count > 0:
                    self.events.labels(channel=result.channel, outcome=outcome).inc(count)
        for channel in report.failed:
            self.failed.labels(channel=channel).inc()

    def show(self, stats: QueueStats, *, now: datetime) -> None:
        """Set the spool gauges from *stats* read at *now*."""
        self.spool.show(stats, now=now)
