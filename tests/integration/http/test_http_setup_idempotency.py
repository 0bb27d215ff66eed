"""``Idempotency-Key`` on ``POST /api/v1/integrations/{channel}/setup``, over the fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.idempotency import IdempotencyRecord, fingerprint
from integration_core.ids import TenantId
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIdempotencyStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import DisconnectIntegration, ListIntegrations
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce

from .conftest import MakeClient, MakeServices

ROOT = "/api/v1/integrations"
TOKEN = "valid-token-0123456789-SECRETVALUE"
WHATSAPP = {"phone_number_id": "1001", "business_account_id": "2002", "access_token": TOKEN}


@pytest.fixture
def setup() -> FakeChannelSetup:
    return FakeChannelSetup(
        channel=Channel.WHATSAPP, valid_tokens=(TOKEN,), external_id_field="phone_number_id"
    )


@pytest.fixture
def idempotency() -> InMemoryIdempotencyStore:
    return InMemoryIdempotencyStore()


@pytest.fixture
async def client(
    *,
    make_client: MakeClient,
    make_services: MakeServices,
    credentials: InMemoryCredentialStore,
    clock: FrozenClock,
    setup: FakeChannelSetup,
    idempotency: InMemoryIdempotencyStore,
) -> Any:
    integrations = InMemoryIntegrationStore()
    stores = {"integrations": integrations, "credentials": credentials}
    setups = {Channel.WHATSAPP: setup}
    connect = ConnectIntegration(
        **stores, setups=setups, clock=clock, base_url="https://hooks.example.com"
    )
    services = make_services(
        integrations=integrations,
        connect_integration=connect,
        connect_integration_once=ConnectIntegrationOnce(
            connect=connect, idempotency=idempotency, credentials=credentials, clock=clock
        ),
        list_integrations=ListIntegrations(**stores),
        disconnect_integration=DisconnectIntegration(**stores, setups=setups),
    )
    return await make_client(services)


@pytest.fixture
def headers(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(key: str | None, tenant: str = "tenant-1") -> dict[str, str]:
        token = token_for("integrations:read", "integrations:write", tenant=tenant)
        found = {"Authorization": f"Bearer {token}"}
        if key is not None:
            found["Idempotency-Key"] = key
        return found

    return make


async def test_a_repeated_setup_answers_200_with_the_same_body(
    client: Any, headers: Callable[..., dict[str, str]], clock: FrozenClock
) -> None:
    first = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))
    assert first.status == 201
    clock.advance(timedelta(minutes=1))

    again = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))

    assert again.status == 200
    assert await again.json() == await first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    listed = await (await client.get(f"{ROOT}/channels", headers=headers(None))).json()
    assert len(listed["data"]) == 1


async def test_the_same_key_with_another_body_is_422(
    client: Any, headers: Callable[..., dict[str, str]]
) -> None:
    await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))
    changed = {**WHATSAPP, "phone_number_id": "1009"}

    response = await client.post(f"{ROOT}/whatsapp/setup", json=changed, headers=headers("k-1"))

    assert response.status == 422
    assert (await response.json())["error"]["code"] == "idempotency_key_reused"


async def test_another_token_under_the_same_key_is_another_request(
    client: Any, headers: Callable[..., dict[str, str]]
) -> None:
    await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))
    other_token = {**WHATSAPP, "access_token": "another-token-0123456789"}

    response = await client.post(f"{ROOT}/whatsapp/setup", json=other_token, headers=headers("k-1"))

    assert response.status == 422
    assert "another-token" not in await response.text()


async def test_keys_are_scoped_per_tenant(
    client: Any, headers: Callable[..., dict[str, str]]
) -> None:
    await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))

    other = await client.post(
        f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1", tenant="tenant-2")
    )

    # Not tenant-1's remembered answer: tenant-2's own attempt, refused on the taken account.
    assert other.status == 409
    assert (await other.json())["error"]["code"] == "integration_exists"


async def test_a_failed_setup_is_not_remembered(
    client: Any, headers: Callable[..., dict[str, str]]
) -> None:
    wrong = {**WHATSAPP, "access_token": "wrong-token-0123456789"}
    refused = await client.post(f"{ROOT}/whatsapp/setup", json=wrong, headers=headers("k-1"))
    assert refused.status == 422
    assert (await refused.json())["error"]["code"] == "invalid_credentials"

    fixed = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))

    assert fixed.status == 201


async def test_a_request_still_in_progress_is_409(
    client: Any,
    headers: Callable[..., dict[str, str]],
    idempotency: InMemoryIdempotencyStore,
    clock: FrozenClock,
) -> None:
    # A claim left by a request that is still running (or died a moment ago).
    config = {k: v for k, v in WHATSAPP.items() if k != "access_token"}
    claim = IdempotencyRecord(
        tenant_id=TenantId("tenant-1"),
        scope="integrations.setup",
        key="k-1",
        fingerprint=fingerprint(
            "integrations.setup:whatsapp",
            credentials={"access_token": Secret(TOKEN)},
            fields=config,
        ),
        created_at=clock.now(),
    )
    await idempotency.claim(claim, abandoned_before=clock.now(), expired_before=clock.now())

    busy = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))
    assert busy.status == 409
    assert (await busy.json())["error"]["code"] == "idempotency_key_in_progress"

    clock.advance(timedelta(minutes=6))  # the claim is abandoned: taken over
    taken = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers("k-1"))
    assert taken.status == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
async def test_a_malformed_key_is_400(
    client: Any, headers: Callable[..., dict[str, str]], key: str
) -> None:
    response = await client.post(f"{ROOT}/whatsapp/setup", json=WHATSAPP, headers=headers(key))

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request"
