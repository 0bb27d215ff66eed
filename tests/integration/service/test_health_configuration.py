"""What health and the start-up log say about the configuration, wired from the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters_db.credentials import SqlCredentialStore
from adapters_http.app import create_app
from adapters_platforms.vault import VaultCredentialStore
from integration_service.container import Container, build_services, resolve, shutdown
from integration_service.settings import Settings

from ...conftest import VaultServer

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]


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


async def test_health_shows_the_mercado_pago_environment_and_the_database_store(
    make_container: Callable[..., Container], aiohttp_client: ClientFactory
) -> None:
    container = make_container(MP_ENVIRONMENT="sandbox")
    client = await aiohttp_client(create_app(await build_services(container)))

    body = await (await client.get("/api/v1/health")).json()

    assert body["configuration"] == {
        "environment": "development",
        "credential_store": "database",
        "credential_store_chosen_by": "default",
        "mercadopago_environment": "sandbox",
    }
    assert isinstance(await resolve(container.stored_credentials), SqlCredentialStore)


async def test_vault_addr_and_token_alone_keep_credentials_in_vault(
    make_container: Callable[..., Container],
    aiohttp_client: ClientFactory,
    openbao: VaultServer,
) -> None:
    """As the original service did with only these two variables set."""
    container = make_container(VAULT_ADDR=openbao.url, VAULT_TOKEN=openbao.token)
    client = await aiohttp_client(create_app(await build_services(container)))

    body = await (await client.get("/api/v1/health")).json()

    assert isinstance(await resolve(container.stored_credentials), VaultCredentialStore)
    assert body["configuration"]["credential_store"] == "vault"
    assert body["configuration"]["credential_store_chosen_by"] == "VAULT_ADDR"
    assert body["configuration"]["mercadopago_environment"] == "production"
    assert body["checks"]["vault"]["critical"] is True
