"""Prometheus metrics of integration setups: how many, how they ended, how long they took.

The original service counted setups per channel and outcome and timed them; an operator reads
these to see a platform refusing credentials or answering slowly. Setups are measured around
:class:`~integration_core.use_cases.onboarding.ConnectIntegration` itself, so both the plain
and the ``Idempotency-Key`` route count each setup once, and a replayed answer (nothing run
again) counts none. The outcome is ``connected``, or the stable API error ``code`` the setup was
refused with (``invalid_credentials``, ``platform_unavailable``, ``integration_exists``...), so
the metric and the answers a tenant saw use the same words (the composition root, which knows
that table, measures the setups: :class:`integration_service.wiring.MeasuredConnectIntegration`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from integration_core.channels import Channel

CONNECTED: Final = "connected"
# A setup validates credentials with the platform (retrying) and may register a webhook: from
# a fraction of a second (webchat) to the retries' worst case.
DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


class SetupMetrics:
    """Setups by channel and outcome, and their duration by channel, on *registry*."""

    def __init__(self, *, registry: CollectorRegistry, channels: Iterable[Channel]) -> None:
        self.setups = Counter(
            "integration_setups_total",
            "Integration setups run, by channel and outcome (connected, or the API error code "
            "that refused the setup).",
            ("channel", "outcome"),
            registry=registry,
        )
        self.duration = Histogram(
            "integration_setup_duration_seconds",
            "Time an integration setup took (platform checks included), by channel.",
            ("channel",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        for channel in channels:  # exported at 0 from the start, so rate() works at once
            self.setups.labels(channel=channel.value, outcome=CONNECTED)
            self.duration.labels(channel=channel.value)

    def observe(self, channel: Channel, outcome: str, seconds: float) -> None:
        """Count one setup of *channel* that ended with *outcome* after *seconds*."""
        self.setups.labels(channel=channel.value, outcome=outcome).inc()
        self.duration.labels(channel=channel.value).observe(max(seconds, 0.0))
