"""Prometheus metrics of token rotation: seconds until each token expires, outcomes counted.

Registered on the container's registry only in processes that run workers, like the
forwarding metrics. The expiry gauge has one series per integration with an expiring token
(labels ``channel`` and ``integration_id``: as many series as such integrations, which is what
an operator needs to find the one about to lapse). It is computed when scraped, from the
expiries last read from the database, so it counts down between reads instead of going stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ports import Clock
from integration_core.use_cases.onboarding import TOKEN_FIELD
from integration_core.use_cases.token_rotation import RotationOutcome, RotationReport

EXPIRY_METRIC = "integration_token_expiry_seconds"


@attrs.frozen
class _Expiry:
    channel: Channel
    integration_id: str
    expires_at_seconds: float


class _ExpiryCollector(Collector):
    """Yield seconds until expiry (negative once lapsed) per integration, at scrape time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.expiries: Sequence[_Expiry] = ()

    def collect(self) -> Iterator[Metric]:
        """Return the gauge family, computed against the clock now."""
        family = GaugeMetricFamily(
            EXPIRY_METRIC,
            "Seconds until an integration's token expires (negative: expired), per integration.",
            labels=["channel", "integration_id"],
        )
        now = self._clock.now().timestamp()
        for expiry in self.expiries:
            family.add_metric(
                [expiry.channel.value, expiry.integration_id], expiry.expires_at_seconds - now
            )
        yield family

    def describe(self) -> Iterable[Metric]:
        """Describe the family without reading the clock (registration time)."""
        return [GaugeMetricFamily(EXPIRY_METRIC, "", labels=["channel", "integration_id"])]


class TokenRotationMetrics:
    """The token-rotation metrics of one process, on *registry*."""

    def __init__(self, *, registry: CollectorRegistry, clock: Clock) -> None:
        self.outcomes = Counter(
            "integration_token_refreshes_total",
            "Token rotation attempts by channel and outcome (refreshed, failed, exhausted, "
            "rejected, not_refreshable, expired, and probed, probe_failed, revoked for tokens "
            "that never expire).",
            ["channel", "outcome"],
            registry=registry,
        )
        for channel in TOKEN_FIELD:  # the channels with a token, exported at 0 from the start
            for outcome in (RotationOutcome.REFRESHED, RotationOutcome.FAILED):
                self.outcomes.labels(channel=channel.value, outcome=outcome.value)
        self.last_pass = Gauge(
            "integration_token_rotation_last_pass_timestamp_seconds",
            "When this process last completed a token rotation pass (Unix time); 0: never.",
            registry=registry,
        )
        self._expiries = _ExpiryCollector(clock)
        self._clock = clock
        registry.register(self._expiries)

    def observe(self, report: RotationReport) -> None:
        """Count each result of a completed pass and note when it completed."""
        for result in report.results:
            self.outcomes.labels(channel=result.channel.value, outcome=result.outcome.value).inc()
        self.last_pass.set(self._clock.now().timestamp())

    def show_expiries(self, integrations: Iterable[Integration]) -> None:
        """Replace the expiries the gauge reports (disabled integrations are left out)."""
        self._expiries.expiries = tuple(
            _Expiry(
                channel=i.channel,
                integration_id=i.id,
                expires_at_seconds=i.token_expires_at.timestamp(),
            )
            for i in integrations
            if i.token_expires_at is not None and i.status is not IntegrationStatus.DISABLED
        )
