"""Setups counted by channel and outcome, and timed, around the real ConnectIntegration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from adapters_observability.setup_metrics import SetupMetrics
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidInput,
    PlatformRateLimited,
    PlatformUnavailable,
)
from integration_core.ids import TenantId
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIntegrationStore,
)
from integration_service.wiring import MeasuredConnectIntegration, outcome_of

TENANT = TenantId("tenant-metrics")


def make(registry: CollectorRegistry, setup: FakeChannelSetup) -> MeasuredConnectIntegration:
    return MeasuredConnectIntegration(
        metrics=SetupMetrics(registry=registry, channels=tuple(Channel)),
        integrations=InMemoryIntegrationStore(),
        credentials=InMemoryCredentialStore(),
        setups={Channel.WHATSAPP: setup},
        clock=FrozenClock(datetime(2026, 3, 1, tzinfo=UTC)),
        base_url="https://hooks.example.com",
    )


async def setup_whatsapp(connect: MeasuredConnectIntegration, token: str, number: str) -> None:
    await connect(
        TENANT,
        Channel.WHATSAPP,
        credentials={"access_token": Secret(token)},
        config={"phone_number_id": number, "business_account_id": "waba-m1"},
    )


def count(registry: CollectorRegistry, channel: str, outcome: str) -> float | None:
    return registry.get_sample_value(
        "integration_setups_total", {"channel": channel, "outcome": outcome}
    )


async def test_each_setup_is_counted_by_outcome_and_timed() -> None:
    registry = CollectorRegistry()
    setup = FakeChannelSetup(channel=Channel.WHATSAPP, external_id_field="phone_number_id")
    connect = make(registry, setup)

    await setup_whatsapp(connect, "valid-token", "num-1")
    with pytest.raises(IntegrationServiceError):
        await setup_whatsapp(connect, "refused-token", "num-2")
    with pytest.raises(IntegrationServiceError):
        await setup_whatsapp(connect, "valid-token", "num-1")  # connected already
    setup.failure = PlatformUnavailable("graph is down")
    with pytest.raises(PlatformUnavailable):
        await setup_whatsapp(connect, "valid-token", "num-3")

    assert count(registry, "whatsapp", "connected") == 1
    assert count(registry, "whatsapp", "invalid_credentials") == 1
    assert count(registry, "whatsapp", "integration_exists") == 1
    assert count(registry, "whatsapp", "platform_unavailable") == 1
    timed = registry.get_sample_value(
        "integration_setup_duration_seconds_count", {"channel": "whatsapp"}
    )
    assert timed == 4


async def test_every_channel_is_exported_at_zero_from_the_start() -> None:
    registry = CollectorRegistry()
    make(registry, FakeChannelSetup(channel=Channel.WHATSAPP))

    for channel in Channel:
        assert count(registry, channel.value, "connected") == 0
        labels = {"channel": channel.value}
        assert registry.get_sample_value("integration_setup_duration_seconds_count", labels) == 0


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "connected"),
        (InvalidInput("bad body"), "invalid_request"),
        (PlatformRateLimited("slow down"), "platform_rate_limited"),
        (RuntimeError("a bug"), "internal_error"),
    ],
)
def test_outcomes_are_the_api_error_codes(error: Exception | None, outcome: str) -> None:
    assert outcome_of(error) == outcome
