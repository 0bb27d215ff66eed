"""Prometheus metrics of webhook intake, per channel.

The names and label values are a contract with the alert rules: change them only together.
Every series a channel can have starts at 0, so ``rate()`` and ``increase()`` work before the
first delivery or the first rejection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram

from integration_core.channels import Channel
from integration_core.use_cases.intake import IntakeResult

Outcome = Literal["stored", "duplicate", "ignored", "unroutable"]
Reason = Literal[
    "invalid_signature", "malformed", "too_large", "rate_limited", "storage_unavailable"
]

OUTCOMES: Final[tuple[Outcome, ...]] = ("stored", "duplicate", "ignored", "unroutable")
REASONS: Final[tuple[Reason, ...]] = (
    "invalid_signature",
    "malformed",
    "too_large",
    "rate_limited",
    "storage_unavailable",
)

# Platform payloads run from ~300 B (a Telegram update, a status) to the 1 MiB cap (a large
# Meta batch): powers of two from 128 B to 1 MiB.
PAYLOAD_BUCKETS: Final = tuple(float(2**n) for n in range(7, 21))


def outcomes(result: IntakeResult) -> dict[Outcome, int]:
    """Split a delivery's events into the four outcomes, each event counted exactly once.

    *stored*: new and queued for forwarding; *duplicate*: already stored; *ignored*: new, but
    its integration is disabled; *unroutable*: new, and no integration owns it (the core counts
    those among the ignored ones).
    """
    return {
        "stored": result.stored - result.ignored,
        "duplicate": result.duplicates,
        "ignored": result.ignored - result.unroutable,
        "unroutable": result.unroutable,
    }


class WebhookMetrics:
    """Own the webhook metrics on *registry*; one instance per registry."""

    def __init__(self, registry: CollectorRegistry, *, channels: Iterable[Channel]) -> None:
        self.received = Counter(
            "integration_webhooks_received_total",
            "Webhook deliveries (HTTP requests) received, accepted or not, by channel.",
            ("channel",),
            registry=registry,
        )
        self.events = Counter(
            "integration_webhook_events_total",
            "Events of accepted webhook deliveries by channel and outcome: stored (new, "
            "queued for forwarding), duplicate (already stored), ignored (new, integration "
            "disabled), unroutable (new, no integration owns it).",
            ("channel", "outcome"),
            registry=registry,
        )
        self.rejected = Counter(
            "integration_webhooks_rejected_total",
            "Webhook deliveries refused, by channel and reason (invalid_signature, malformed, "
            "too_large, rate_limited, storage_unavailable).",
            ("channel", "reason"),
            registry=registry,
        )
        self.payload_bytes = Histogram(
            "integration_webhook_payload_bytes",
            "Size of webhook request bodies read, by channel.",
            ("channel",),
            buckets=PAYLOAD_BUCKETS,
            registry=registry,
        )
        for channel in channels:
            self.received.labels(channel=channel)
            self.payload_bytes.labels(channel=channel)
            for outcome in OUTCOMES:
                self.events.labels(channel=channel, outcome=outcome)
            for reason in REASONS:
                self.rejected.labels(channel=channel, reason=reason)

    def observe_intake(self, channel: Channel, result: IntakeResult) -> None:
        """Count the events of one accepted delivery by outcome."""
        for outcome, count in outcomes(result).items():
            if count > 0:
                self.events.labels(channel=channel, outcome=outcome).inc(count)
