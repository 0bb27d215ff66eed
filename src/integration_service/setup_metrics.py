"""Prometheus metrics of integration setups: how many, how they ended, how long they took.

The original service counted setups per channel and outcome and timed them; an operator reads
these to see a platform refusing credentials or answering slowly. Setups are measured around
:class:`~integration_core.use_cases.onboarding.ConnectIntegration` itself, so both the plain
and the ``Idempotency-Key`` route count each setup once, and a replayed answer (nothing run
again) counts none. The outcome is ``connected``, or the stable API error ``code`` the setup was
refused with (``invalid_credentials``, ``platform_unavailable``, ``integration_exists``...), so
the metric and the answers a tenant saw use the same words.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from adapters_http.errors import DOMAIN_ERRORS
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import IntegrationServiceError
from integration_core.ids import TenantId
from integration_core.use_cases.onboarding import ConnectedIntegration, ConnectIntegration

CONNECTED: Final = "connected"
UNEXPECTED: Final = "internal_error"
# A setup validates credentials with the platform (retrying) and may register a webhook: from
# a fraction of a second (webchat) to the retries' worst case.
DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


def outcome_of(error: Exception | None) -> str:
    """Return the outcome label for a setup that raised *error* (``None``: it connected)."""
    if error is None:
        return CONNECTED
    if isinstance(error, IntegrationServiceError):
        for cls in type(error).__mro__:  # the most specific class in the table wins
            if issubclass(cls, IntegrationServiceError) and cls in DOMAIN_ERRORS:
                return DOMAIN_ERRORS[cls].code
    return UNEXPECTED


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


class MeasuredConnectIntegration(ConnectIntegration):
    """:class:`ConnectIntegration` that counts and times every setup it runs.

    A subclass rather than a wrapper because the HTTP services and
    :class:`~integration_core.use_cases.setup_idempotency.ConnectIntegrationOnce` take a
    ``ConnectIntegration``; it changes nothing but the measuring.
    """

    def __init__(self, *, metrics: SetupMetrics, **use_case: Any) -> None:
        super().__init__(**use_case)
        self._metrics = metrics

    async def __call__(
        self,
        tenant_id: TenantId,
        channel: Channel,
        *,
        credentials: Mapping[str, Secret],
        config: Mapping[str, str],
    ) -> ConnectedIntegration:
        """Run the setup; record its outcome and duration whatever happens (not cancellation)."""
        started = time.perf_counter()
        try:
            connected = await super().__call__(
                tenant_id, channel, credentials=credentials, config=config
            )
        except Exception as exc:
            self._metrics.observe(channel, outcome_of(exc), time.perf_counter() - started)
            raise
        self._metrics.observe(channel, CONNECTED, time.perf_counter() - started)
        return connected
