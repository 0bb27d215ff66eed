"""Health: critical failures make the service down, others degraded, slow probes fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ids import TenantId
from integration_core.testing import FakeProbe, InMemoryIntegrationStore
from integration_core.use_cases.health import CheckHealth, HealthStatus

AT = datetime(2026, 1, 1, tzinfo=UTC)


class _SlowProbe:
    name = "slow"
    critical = False

    async def check(self) -> None:
        await asyncio.sleep(10)


def _integration(number: int, channel: Channel, status: IntegrationStatus) -> Integration:
    return Integration(
        id=f"int_{number}",
        tenant_id=TenantId("t1"),
        channel=channel,
        status=status,
        external_id=f"ext-{number}",
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )


async def test_all_ok_counts_active_integrations_only() -> None:
    store = InMemoryIntegrationStore()
    await store.add(_integration(1, Channel.WHATSAPP, IntegrationStatus.ACTIVE))
    await store.add(_integration(2, Channel.WHATSAPP, IntegrationStatus.ACTIVE))
    await store.add(_integration(3, Channel.TELEGRAM, IntegrationStatus.DISABLED))
    report = await CheckHealth(probes=[FakeProbe("database")], integrations=store)()
    assert report.status is HealthStatus.OK
    assert [c.name for c in report.checks] == ["database"]
    assert report.checks[0].ok
    assert report.checks[0].latency_ms >= 0
    assert dict(report.active_integrations) == {Channel.WHATSAPP: 2}


async def test_critical_failure_is_down_and_skips_counts() -> None:
    store = InMemoryIntegrationStore()
    probe = FakeProbe("database", failing=True)
    report = await CheckHealth(probes=[probe], integrations=store)()
    assert report.status is HealthStatus.DOWN
    assert report.checks[0].error == "database is failing"
    assert report.active_integrations == {}


async def test_non_critical_failure_is_degraded() -> None:
    probes = [FakeProbe("database"), FakeProbe("messaging", critical=False, failing=True)]
    report = await CheckHealth(probes=probes, integrations=InMemoryIntegrationStore())()
    assert report.status is HealthStatus.DEGRADED


async def test_slow_probe_times_out() -> None:
    report = await CheckHealth(
        probes=[_SlowProbe()], integrations=InMemoryIntegrationStore(), timeout=0.05
    )()
    assert report.status is HealthStatus.DEGRADED
    assert report.checks[0].error == "no answer within 0.05s"


async def test_store_down_for_counts_still_reports() -> None:
    store = InMemoryIntegrationStore()
    store.available = False
    report = await CheckHealth(probes=[FakeProbe("database")], integrations=store)()
    assert report.status is HealthStatus.OK
    assert report.active_integrations == {}
