"""Health, readiness and metrics: no token, honest status codes, bounded metric labels."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ids import TenantId
from integration_core.testing import FakeProbe, InMemoryIntegrationStore
from integration_core.use_cases.health import CheckHealth

RUNTIME_KEYS = {
    "python",
    "pid",
    "uptime_seconds",
    "memory_rss_bytes",
    "cpu_percent",
    "threads",
    "event_loop_tasks",
}


def integration(n: int, channel: Channel, status: IntegrationStatus) -> Integration:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Integration(
        id=f"int_{n}",
        tenant_id=TenantId("tenant-1"),
        channel=channel,
        status=status,
        external_id=f"ext-{n}",
        created_at=at,
        updated_at=at,
        status_changed_at=at,
    )


@pytest.fixture
def vault_probe() -> FakeProbe:
    return FakeProbe("vault", critical=False)


@pytest.fixture
async def services(make_services: Any, database_probe: FakeProbe, vault_probe: FakeProbe) -> Any:
    store = InMemoryIntegrationStore()
    await store.add(integration(1, Channel.TELEGRAM, IntegrationStatus.ACTIVE))
    await store.add(integration(2, Channel.TELEGRAM, IntegrationStatus.ACTIVE))
    await store.add(integration(3, Channel.WHATSAPP, IntegrationStatus.ACTIVE))
    await store.add(integration(4, Channel.WHATSAPP, IntegrationStatus.PENDING))
    return make_services(integrations=store, probes=[database_probe, vault_probe])


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


async def test_health_reports_dependencies_runtime_and_integrations(client: Any) -> None:
    response = await client.get("/api/v1/health")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["status"] == "ok"
    assert body["version"] == "1.2.3-test"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["critical"] is True
    assert body["checks"]["vault"]["critical"] is False
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert "error" not in body["checks"]["database"]
    assert set(body["runtime"]) == RUNTIME_KEYS
    assert body["runtime"]["pid"] == os.getpid()
    assert body["runtime"]["memory_rss_bytes"] > 0
    assert body["runtime"]["threads"] >= 1
    assert body["runtime"]["event_loop_tasks"] >= 1
    assert body["runtime"]["uptime_seconds"] >= 0
    assert body["integrations"] == {"active_by_channel": {"telegram": 2, "whatsapp": 1}}


async def test_a_failing_optional_dependency_degrades_but_stays_200(
    client: Any, vault_probe: FakeProbe
) -> None:
    vault_probe.failing = True

    health = await client.get("/api/v1/health")
    ready = await client.get("/api/v1/ready")

    assert health.status == 200
    body = await health.json()
    assert body["status"] == "degraded"
    assert body["checks"]["vault"] == {
        "ok": False,
        "latency_ms": body["checks"]["vault"]["latency_ms"],
        "critical": False,
        "error": "vault is failing",
    }
    assert ready.status == 200


async def test_a_down_database_is_503_until_it_recovers(
    client: Any, database_probe: FakeProbe
) -> None:
    assert (await client.get("/api/v1/ready")).status == 200
    database_probe.failing = True

    health = await client.get("/api/v1/health")
    ready = await client.get("/api/v1/ready")

    assert health.status == 503
    assert (await health.json())["status"] == "down"
    assert ready.status == 503
    error = (await ready.json())["error"]
    assert error["code"] == "not_ready"
    assert "database" in error["message"]

    database_probe.failing = False

    assert (await client.get("/api/v1/health")).status == 200
    ready_again = await client.get("/api/v1/ready")
    assert ready_again.status == 200
    assert await ready_again.json() == {"status": "ready"}


async def test_health_sets_the_dependency_gauges(
    client: Any, services: Any, database_probe: FakeProbe
) -> None:
    database_probe.failing = True
    await client.get("/api/v1/health")

    up = services.registry.get_sample_value
    assert up("integration_dependency_up", {"dependency": "database"}) == 0
    assert up("integration_dependency_up", {"dependency": "vault"}) == 1
    latency = up("integration_dependency_latency_seconds", {"dependency": "database"})
    assert latency is not None
    assert latency >= 0

    database_probe.failing = False
    await client.get("/api/v1/health")
    assert up("integration_dependency_up", {"dependency": "database"}) == 1


@pytest.mark.parametrize("path", ["/api/v1/health/", "/api/v1/ready/", "/metrics/"])
async def test_get_works_with_a_trailing_slash(client: Any, path: str) -> None:
    response = await client.get(path, allow_redirects=False)

    assert response.status == 200


async def test_head_works_on_health(client: Any) -> None:
    assert (await client.head("/api/v1/health")).status == 200


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_metrics_count_requests_by_route_template(client: Any) -> None:
    await client.get("/api/v1/health")
    await client.get("/api/v1/health/")
    await client.get("/api/v1/integrations/int_123456")
    await client.get("/api/v1/unknown/int_123456")
    await client.get("/some/random/path")

    response = await client.get("/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    requests = samples(text, "integration_http_requests_total")
    health = (("method", "GET"), ("route", "/api/v1/health"), ("status", "200"))
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert requests[health] == 2
    assert requests[unmatched] == 2
    integration = (("method", "GET"), ("route", "/api/v1/integrations/{id}"), ("status", "401"))
    assert requests[integration] == 1
    assert not any("int_123456" in line for line in text.splitlines())
    assert "integration_http_request_duration_seconds_bucket" in text
    assert samples(text, "integration_http_requests_in_flight") == {(): 1.0}
    assert samples(text, "integration_rate_limited_total") == {
        (("scope", "ip"),): 0,
        (("scope", "tenant"),): 0,
        (("scope", "webhook"),): 0,
    }
    assert "integration_dependency_up" in text


async def test_unknown_methods_do_not_create_label_values(client: Any, services: Any) -> None:
    # aiohttp's parser already refuses invented methods ("BREW"); WebDAV's pass it.
    await client.request("PROPFIND", "/api/v1/health")

    value = services.registry.get_sample_value(
        "integration_http_requests_total",
        {"method": "other", "route": "unmatched", "status": "405"},
    )
    assert value == 1


async def test_health_shows_the_configuration_choices(
    make_client: Any, make_services: Any, database_probe: FakeProbe
) -> None:
    choices = {
        "environment": "production",
        "credential_store": "vault",
        "credential_store_chosen_by": "VAULT_ADDR",
        "mercadopago_environment": "sandbox",
    }
    check = CheckHealth(
        probes=[database_probe], integrations=InMemoryIntegrationStore(), configuration=choices
    )
    client = await make_client(make_services(check_health=check))

    body = await (await client.get("/api/v1/health")).json()

    assert body["configuration"] == choices
