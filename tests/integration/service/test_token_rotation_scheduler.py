"""The token-rotation scheduler over in-memory fakes: passes, metrics, outages, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import prometheus_client
import pytest

from adapters_observability.rotation_metrics import TokenRotationMetrics
from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.ids import TenantId, new_id
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.token_rotation import RotateTokens, RotationPolicy
from integration_service.loops import TokenRotationScheduler, summary
from integration_service.workers import Workers

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACME = TenantId("acme")
EXPIRY = "integration_token_expiry_seconds"
OUTCOMES = "integration_token_refreshes_total"
LAST_PASS = "integration_token_rotation_last_pass_timestamp_seconds"


class Harness:
    """A scheduler over fakes with its own registry."""

    def __init__(self, interval: float = 3600.0) -> None:
        self.clock = FrozenClock(T0)
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.setup = FakeChannelSetup(
            channel=Channel.WHATSAPP,
            valid_tokens=("old",),
            refreshed=RefreshedToken(access_token=Secret("new"), expires_at=T0 + timedelta(60)),
        )
        self.registry = prometheus_client.CollectorRegistry()
        self.metrics = TokenRotationMetrics(registry=self.registry, clock=self.clock)
        self.scheduler = TokenRotationScheduler(
            rotate=RotateTokens(
                integrations=self.integrations,
                credentials=self.credentials,
                events=InMemoryEventStore(),
                setups={Channel.WHATSAPP: self.setup},
                clock=self.clock,
                policy=RotationPolicy(),
            ),
            integrations=self.integrations,
            metrics=self.metrics,
            clock=self.clock,
            interval=interval,
            gauge_interval=interval,
        )

    async def connect(
        self, expires_in: timedelta, status: IntegrationStatus = IntegrationStatus.ACTIVE
    ) -> Integration:
        integration = Integration(
            id=new_id("int"),
            tenant_id=ACME,
            channel=Channel.WHATSAPP,
            status=status,
            external_id=new_id("phone"),
            token_expires_at=T0 + expires_in,
            created_at=T0,
            updated_at=T0,
            status_changed_at=T0,
        )
        await self.integrations.add(integration)
        ref = CredentialRef(tenant_id=ACME, integration_id=integration.id, name="access_token")
        await self.credentials.put(ref, Secret("old"))
        return integration

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Let the event loop run until *condition()* holds (no clock involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail(f"{what} never happened")


async def test_a_pass_is_counted_by_outcome_and_timestamped() -> None:
    harness = Harness()
    await harness.connect(timedelta(days=2))
    assert harness.sample(LAST_PASS) == 0.0

    report = await harness.scheduler.run_pass()

    assert report is not None
    assert summary(report) == "1 integration(s): refreshed 1"
    assert harness.sample(OUTCOMES, channel="whatsapp", outcome="refreshed") == 1.0
    assert harness.sample(OUTCOMES, channel="whatsapp", outcome="failed") == 0.0
    assert harness.sample(LAST_PASS) == T0.timestamp()


async def test_a_pass_with_the_database_down_is_logged_not_raised() -> None:
    harness = Harness()
    harness.integrations.available = False

    assert await harness.scheduler.run_pass() is None
    assert harness.sample(LAST_PASS) == 0.0


async def test_the_loop_runs_at_start_shows_expiries_and_stops_cleanly() -> None:
    harness = Harness()
    soon = await harness.connect(timedelta(days=2))
    later = await harness.connect(timedelta(days=30))
    disabled = await harness.connect(timedelta(days=40), status=IntegrationStatus.DISABLED)
    workers = Workers()

    workers.start("token-rotation", harness.scheduler.run(workers.stopping))
    await eventually(
        lambda: harness.sample(EXPIRY, channel="whatsapp", integration_id=later.id) is not None,
        "the first pass and the expiry gauge",
    )

    def expiry(integration: Integration) -> float | None:
        return harness.sample(EXPIRY, channel="whatsapp", integration_id=integration.id)

    assert expiry(soon) == timedelta(days=60).total_seconds()  # refreshed by the first pass
    assert expiry(later) == timedelta(days=30).total_seconds()
    assert expiry(disabled) is None
    harness.clock.advance(days=1)  # computed when scraped: it counts down between reads
    assert expiry(later) == timedelta(days=29).total_seconds()

    await asyncio.wait_for(workers.stop(5), timeout=5)
    assert harness.setup.refreshes == 1


async def test_the_loop_survives_an_outage() -> None:
    harness = Harness(interval=0.0)  # a pass on every turn of the loop
    harness.integrations.available = False
    workers = Workers()

    workers.start("token-rotation", harness.scheduler.run(workers.stopping))
    for _ in range(50):
        await asyncio.sleep(0)
    assert harness.sample(LAST_PASS) == 0.0  # every pass so far failed, the loop went on
    harness.integrations.available = True
    await eventually(lambda: (harness.sample(LAST_PASS) or 0) > 0, "a pass after the outage")

    await asyncio.wait_for(workers.stop(5), timeout=5)
