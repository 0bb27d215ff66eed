"""Prometheus metrics of webhook intake (the request side), per channel.

What became of the events of accepted deliveries is counted where they are split
(:mod:`adapters_observability.split_metrics`).

The names and label values are a contract with the alert rules: change them only together.
Every series a channel can have starts at 0, so ``rate()`` and ``increase()`` work before the
first delivery or the first rejection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram

from integration_core.channels import Channel

Reason = Literal[
    "invalid_signature", "malformed", "too_large", "rate_limited", "storage_unavailable"
]

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


class WebhookMetrics:
    """Own the webhook metrics on *registry*; one instance per registry."""

    def __init__(self, registry: CollectorRegistry, *, channels: Iterable[Channel]) -> None:
        self.received = Counter(
            "integration_webhooks_received_total",
            "Webhook deliveries (HTTP requests) received, accepted or not, by channel.",
            ("channel",),
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
        # Each channel's series, looked up once: the hot path must not call labels() per request.
        self.received_by: dict[str, Counter] = {}
        self.payload_bytes_by: dict[str, Histogram] = {}
        for channel in channels:
            self.received_by[channel] = self.received.labels(channel=channel)
            self.payload_bytes_by[channel] = self.payload_bytes.labels(channel=channel)
            for reason in REASONS:
                self.rejected.labels(channel=channel, reason=reason)
