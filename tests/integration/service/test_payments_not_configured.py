"""Payments without any Mercado Pago account answer 503 ``payments_not_configured``.

Wired from the settings by the real container (SQLite, no ``MP_ACCESS_TOKEN``), served for real:
the refusal names the variable, stores nothing, and is not counted as a server error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters_http.app import create_app
from adapters_http.auth import issue_token
from integration_core.credentials import Secret
from integration_core.ids import TenantId
from integration_service.container import Container, build_services, engine_of, resolve, shutdown
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

ClientFactory = Callable[[Any], Awaitable[TestClient[Any, Any]]]
JWT = "jwt-secret-for-payments-not-configured-0123456789"
CHECKOUT = {"amount": "150.00", "currency": "ARS", "description": "Order 7"}


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    env = {"JWT_SECRET": JWT, "ENCRYPTION_KEY": "k" * 43 + "=", "MP_WEBHOOK_SECRET": "mp-secret"}
    made = Container(settings=Settings.from_env(env, cwd=tmp_path))
    try:
        await build_services(made)
        await migrate_until_done(await engine_of(made), await resolve(made.migrations))
        yield made
    finally:
        await shutdown(made)


def _token() -> str:
    return issue_token(
        secret=Secret(JWT),
        tenant_id="acme",
        scopes=("payments:read", "payments:write"),
        expires_in=timedelta(hours=1),
        now=datetime.now(UTC),
    )


async def test_a_payment_without_any_mercadopago_account_is_503_naming_the_variable(
    container: Container, aiohttp_client: ClientFactory
) -> None:
    services = await build_services(container)
    client = await aiohttp_client(create_app(services))
    headers = {"Authorization": f"Bearer {_token()}"}

    created = await client.post("/api/v1/payments/", json=CHECKOUT, headers=headers)
    body = (await created.json())["error"]
    refund = await client.post("/api/v1/payments/pay_1/refund", json={}, headers=headers)

    assert created.status == 503, body
    assert body["code"] == "payments_not_configured"
    assert "MP_ACCESS_TOKEN" in body["message"]
    payments = await resolve(container.payments)
    assert (await payments.list(TenantId("acme"))).items == ()
    # A refund of an unknown payment is still 404: nothing leaks whether payments exist.
    assert refund.status == 404
    metrics = await (await client.get("/metrics")).text()
    assert 'route="/api/v1/payments",status="503"' in metrics
    assert 'status="500"' not in metrics
