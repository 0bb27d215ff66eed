"""The container wires intake, forwarding and probes from the settings (on SQLite)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters_db.credentials import SqlCredentialStore
from adapters_db.health import MigrationProbe
from adapters_http.app import create_app, create_ops_app
from adapters_platforms.messaging import HttpMessageForwarder
from adapters_platforms.vault import VaultCredentialStore
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import CredentialRef, Secret
from integration_core.ids import TenantId, new_id
from integration_core.signatures import meta
from integration_service.container import Container, build_services, engine_of, resolve, shutdown
from integration_service.roles import Role
from integration_service.server import (
    migrate_until_done,
    start_workers,
    wait_for_schema,
)
from integration_service.settings import Settings
from integration_service.workers import Workers

from ...conftest import VaultServer

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]
WHATSAPP = "/api/v1/integrations/webhooks/whatsapp"


@pytest.fixture
async def make_container(tmp_path: Path) -> AsyncIterator[Callable[..., Container]]:
    made: list[Container] = []

    def make(**env: str) -> Container:
        container = Container(settings=Settings.from_env(env, cwd=tmp_path))
        made.append(container)
        return container

    yield make
    for container in made:
        await shutdown(container)


async def migrated(container: Container) -> Container:
    await build_services(container)
    await migrate_until_done(await engine_of(container), await resolve(container.migrations))
    return container


async def test_without_a_messaging_service_nothing_forwards(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    services = await build_services(container)

    assert await resolve(container.forwarder) is None
    assert await resolve(container.forward_events) is None
    report = await services.check_health()
    assert [c.name for c in report.checks] == ["database", "migrations"]
    assert isinstance(await resolve(container.stored_credentials), SqlCredentialStore)


async def test_a_vault_credential_store_keeps_secrets_in_vault_and_is_checked_by_health(
    make_container: Callable[..., Container], openbao: VaultServer
) -> None:
    container = await migrated(
        make_container(CREDENTIAL_STORE="vault", VAULT_ADDR=openbao.url, VAULT_TOKEN=openbao.token)
    )
    services = await build_services(container)
    store = await resolve(container.stored_credentials)
    assert isinstance(store, VaultCredentialStore)
    ref = CredentialRef(tenant_id=TenantId("acme"), integration_id=new_id("int"), name="x")
    await store.put(ref, Secret("kept-in-vault"))
    assert (await store.get(ref)).reveal() == "kept-in-vault"

    report = await services.check_health()
    vault = next(c for c in report.checks if c.name == "vault")
    assert vault.ok
    assert vault.critical


async def test_an_integration_with_its_own_app_secret_is_verified_with_it(
    make_container: Callable[..., Container], aiohttp_client: ClientFactory
) -> None:
    container = await migrated(make_container())  # no WHATSAPP_WEBHOOK_SECRET at all
    services = await build_services(container)
    now = datetime.now(UTC)
    own = Integration(
        id=new_id("int"),
        tenant_id=TenantId("acme"),
        channel=Channel.WHATSAPP,
        status=IntegrationStatus.ACTIVE,
        external_id="555",
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    await services.integrations.add(own)
    ref = CredentialRef(tenant_id=own.tenant_id, integration_id=own.id, name="app_secret")
    await (await resolve(container.stored_credentials)).put(ref, Secret("its-own"))
    client = await aiohttp_client(create_app(services))
    value = {"metadata": {"phone_number_id": "555"}, "statuses": [_status()]}
    body = json.dumps({"entry": [{"id": "w", "changes": [{"value": value}]}]}).encode()

    signed = {meta.HEADER: meta.sign(Secret("its-own"), body)}
    own_route = f"{WHATSAPP}/{own.id}"
    assert (await client.post(own_route, data=body, headers=signed)).status == 200
    assert (await client.post(WHATSAPP, data=body, headers=signed)).status == 401, "shared route"
    other = {meta.HEADER: meta.sign(Secret("not-its-own"), body)}
    assert (await client.post(own_route, data=body, headers=other)).status == 401
    assert (await (await resolve(container.split_deliveries)).run_once()).claimed == 1
    (stored,) = (await services.events.list(own.tenant_id)).items
    assert stored.integration_id == own.id


def _status() -> dict[str, str]:
    return {"id": "wamid.1", "status": "read", "timestamp": "1767225601", "recipient_id": "1"}


async def test_with_a_messaging_service_each_worker_gets_its_own_use_case(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(MESSAGING_SERVICE_URL="http://127.0.0.1:9/events")
    services = await build_services(container)

    assert isinstance(await resolve(container.forwarder), HttpMessageForwarder)
    first = await resolve(container.forward_events)
    assert first is not None
    assert first is not await resolve(container.forward_events)
    report = await services.check_health()
    messaging = next(c for c in report.checks if c.name == "messaging_service")
    assert not messaging.critical
    assert not messaging.ok, "nothing listens there, and that only degrades health"


async def test_a_worker_runs_split_workers_splitting_loops(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(MESSAGING_SERVICE_URL="http://127.0.0.1:9/events", SPLIT_WORKERS="3")

    background = await resolve(container.background)

    assert (background.split_workers, background.forwarding_workers) == (3, 2)


async def test_the_intake_verifies_with_the_configured_secrets_and_tokens(
    make_container: Callable[..., Container], aiohttp_client: ClientFactory
) -> None:
    container = await migrated(
        make_container(WHATSAPP_WEBHOOK_SECRET="new,old", WHATSAPP_VERIFY_TOKEN="vt")
    )
    client = await aiohttp_client(create_app(await build_services(container)))
    body = b'{"object":"whatsapp_business_account","entry":[]}'

    signed_old = {meta.HEADER: meta.sign(Secret("old"), body)}
    assert (await client.post(WHATSAPP, data=body, headers=signed_old)).status == 200
    signed_bad = {meta.HEADER: meta.sign(Secret("wrong"), body)}
    assert (await client.post(WHATSAPP, data=body, headers=signed_bad)).status == 401
    unsigned = await client.post("/api/v1/integrations/webhooks/telegram", data=b"{}")
    assert unsigned.status == 401, "no TELEGRAM_WEBHOOK_SECRET: fail closed"
    query = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "42"}
    handshake = await client.get(WHATSAPP, params=query)
    assert (handshake.status, await handshake.text()) == (200, "42")
    refused = await client.get("/api/v1/integrations/webhooks/messenger", params=query)
    assert refused.status == 403, "no MESSENGER_VERIFY_TOKEN"


async def test_a_worker_waits_for_the_schema_and_marks_itself_ready(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    await build_services(container)
    engine = await engine_of(container)
    probe = MigrationProbe()
    stop = asyncio.Event()

    waiting = asyncio.create_task(wait_for_schema(engine, probe, stop=stop, poll_seconds=0.02))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert not probe.applied
    await migrate_until_done(engine, MigrationProbe())

    assert await asyncio.wait_for(waiting, 2) is True
    assert probe.applied
    stop.set()
    assert await wait_for_schema(engine, MigrationProbe(), stop=stop) is False


async def test_a_worker_without_a_messaging_service_still_reports_the_outbox(
    make_container: Callable[..., Container],
) -> None:
    container = await migrated(make_container())
    settings = container.settings()
    workers = Workers()

    await start_workers(container, settings, workers)
    registry = await resolve(container.registry)
    await asyncio.sleep(0.2)

    assert registry.get_sample_value("integration_outbox_pending") == 0
    assert (
        registry.get_sample_value("integration_forward_attempts_total", {"outcome": "delivered"})
        == 0
    )
    await asyncio.wait_for(workers.stop(5), 2)


async def test_the_worker_listener_serves_only_health_and_metrics(
    make_container: Callable[..., Container], aiohttp_client: ClientFactory
) -> None:
    container = await migrated(make_container())
    client = await aiohttp_client(create_ops_app(await build_services(container)))

    assert (await client.get("/api/v1/health")).status == 200
    assert (await client.get("/api/v1/ready/")).status == 200
    metrics = await client.get("/metrics")
    assert "integration_http_requests_total" in await metrics.text()
    missing = await client.post(WHATSAPP, data=b"{}")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    assert Role.WORKER.runs_workers
    assert not Role.WORKER.serves_api
    assert Role.ALL.runs_workers
    assert Role.ALL.serves_api
    assert Role.API.serves_api
    assert not Role.API.runs_workers
