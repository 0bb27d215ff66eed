"""Prometheus metrics of the forwarding side: attempts, delivery latency, the outbox's depth.

They are registered on the container's registry only in processes that run workers
(``--role worker`` or ``all``), so an ``api`` process never exports an outbox gauge that nobody
refreshes. The three outbox gauges describe the shared database, not this process: with several
worker processes every one reports the same values, so alert on ``max()`` of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from adapters_observability.queue_gauges import QueueGauges
from integration_core.events import EventType, QueueStats
from integration_core.use_cases.forwarding import Attempt, Outcome

# From a fast first attempt (tens of milliseconds) to the last retry of the schedule (a day).
LATENCY_BUCKETS: Final = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
    7200.0,
    21600.0,
    86400.0,
)


class ForwardMetrics:
    """The forwarding metrics of one process, on *registry*."""

    def __init__(self, *, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "integration_forward_attempts_total",
            "Delivery attempts to the messaging service, by outcome (delivered, retry, dead, "
            "stale: overtaken by a replay or a newer claim).",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.attempts.labels(outcome=outcome.value)  # exported at 0 from the start
        self.latency = Histogram(
            "integration_forward_delivery_latency_seconds",
            "Time from receiving an event to delivering it to the messaging service.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.payment_latency = Histogram(
            "integration_payment_notification_forward_latency_seconds",
            "Time from a Mercado Pago notification to delivering its payment.updated event.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.outbox = QueueGauges(
            registry=registry,
            waiting=(
                "integration_outbox_pending",
                "Events waiting to be delivered (all workers, from the database).",
            ),
            failed=(
                "integration_outbox_dead",
                "Dead-lettered events waiting for a replay (from the database).",
            ),
            oldest_age=(
                "integration_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending event; 0 when none is pending.",
            ),
        )

    def observe(self, attempts: Iterable[Attempt]) -> None:
        """Count each attempt and, for deliveries, the time since receipt."""
        # One labelled increment per outcome of the batch, not one per attempt.
        outcomes: dict[str, int] = {}
        for attempt in attempts:
            outcomes[attempt.outcome.value] = outcomes.get(attempt.outcome.value, 0) + 1
            if attempt.latency is not None:
                self.latency.observe(max(attempt.latency.total_seconds(), 0.0))
                if attempt.event_type is EventType.PAYMENT_UPDATED:
                    self.payment_latency.observe(max(attempt.latency.total_seconds(), 0.0))
        for outcome, count in outcomes.items():
            self.attempts.labels(outcome=outcome).inc(count)

    def show(self, stats: QueueStats, *, now: datetime) -> None:
        """Set the outbox gauges from *stats* read at *now*."""
        self.outbox.show(stats, now=now)
