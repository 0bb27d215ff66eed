"""Two tenants claim one Tawk.to property: only a proven claim receives the platform's deliveries.

A property id is public (every embed script carries it), so anyone can set up an integration
naming it. With the operator's platform-wide Tawk.to webhook, a delivery for the property must
reach its owner only: the tenant whose API key sees the property (checked against the fake
Tawk.to REST API over HTTP). An unproven claim never receives the property's chats and never
blocks the owner's setup: the owner's wins, and the unproven integration is marked superseded.
Everything runs for real over HTTP, deliveries through the real intake and splitting stage.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from tests.fakes.fake_tawkto import FakeTawkTo

from adapters_http.services import SERVICES
from adapters_platforms.http import client_session
from adapters_platforms.tawkto import TawkToSetup
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.events import EventRecord
from integration_core.ids import TenantId
from integration_core.signatures import tawkto
from integration_core.testing import FrozenClock, InMemoryCredentialStore
from integration_core.use_cases.integrations import GetIntegration
from integration_core.use_cases.onboarding import ConnectIntegration

from .conftest import TAWKTO_SECRET, MakeClient, MakeServices, drain_spool

ROOT = "/api/v1/integrations"
PROPERTY = "prop-shop-7"
OWNER_KEY = "tawk-owner-api-key-0123456789"
OWNER, SQUATTER = "tenant-owner", "tenant-squatter"


@pytest.fixture
async def tawk() -> AsyncIterator[FakeTawkTo]:
    async with FakeTawkTo() as fake:
        fake.add_key(OWNER_KEY, {PROPERTY: "Shop"})
        yield fake


@pytest.fixture
async def client(
    *,
    tawk: FakeTawkTo,
    make_client: MakeClient,
    make_services: MakeServices,
    credentials: InMemoryCredentialStore,
    clock: FrozenClock,
) -> AsyncIterator[Any]:
    async with client_session() as session:
        base = make_services()
        stores = {"integrations": base.integrations, "credentials": credentials}
        setups = {Channel.TAWKTO: TawkToSetup(session=session, base_url=tawk.api_url)}
        services = make_services(
            integrations=base.integrations,
            events=base.events,
            connect_integration=ConnectIntegration(
                **stores, setups=setups, clock=clock, base_url="https://hooks.example.com"
            ),
            get_integration=GetIntegration(**stores),
        )
        yield await make_client(services)


async def setup(
    client: Any, auth: Callable[..., dict[str, str]], tenant: str, **fields: str
) -> Any:
    body = {"property_id": PROPERTY, **fields}
    return await client.post(f"{ROOT}/tawkto/setup", json=body, headers=auth(tenant))


async def deliver(
    client: Any, chat_id: str, *, secret: Secret = TAWKTO_SECRET, route: str | None = None
) -> int:
    payload = {
        "event": "chat:start",
        "chatId": chat_id,
        "time": "2026-01-01T00:00:00Z",
        "property": {"id": PROPERTY, "name": "Shop"},
        "visitor": {"name": "Ana"},
        "message": {"text": f"hello {chat_id}", "sender": {"type": "visitor"}},
    }
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", tawkto.HEADER: tawkto.sign(secret, body)}
    path = f"{ROOT}/webhooks/tawkto" + (f"/{route}" if route else "")
    response = await client.post(path, data=body, headers=headers)
    await drain_spool(client.server.app[SERVICES])
    return int(response.status)


async def chats(client: Any, tenant: str) -> list[str]:
    events: list[EventRecord] = list(
        (await client.server.app[SERVICES].events.list(TenantId(tenant))).items
    )
    return sorted(str(e.data.get("conversation", {}).get("id", e.dedupe_key)) for e in events)


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(tenant: str) -> dict[str, str]:
        scopes = ("integrations:read", "integrations:write")
        return {"Authorization": f"Bearer {token_for(*scopes, tenant=tenant)}"}

    return make


async def test_an_unproven_claim_never_gets_the_owners_chats_nor_blocks_the_owner(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    # The squatter names the owner's property first, without an API key: accepted, unproven.
    squat = await setup(client, auth, SQUATTER, webhook_secret="squatter-own-secret-0123")
    assert squat.status == 201, await squat.text()
    squatted = await squat.json()
    assert squatted["config"]["property_verified"] == "false"

    # The operator's platform-wide webhook delivers the property's chat: nobody proven, nobody.
    assert await deliver(client, "chat-1") == 200
    assert await chats(client, SQUATTER) == []

    # An API key that cannot see the property proves nothing either: still 409 for it.
    stranger = await setup(
        client, auth, "tenant-stranger", webhook_secret="s-0123456789", api_key="not-a-key-0123"
    )
    assert stranger.status == 422

    # The owner sets up with an API key that sees the property: it wins.
    owned = await setup(
        client, auth, OWNER, webhook_secret="owner-own-secret-0123", api_key=OWNER_KEY
    )
    assert owned.status == 201, await owned.text()
    owner = await owned.json()
    assert owner["config"]["property_verified"] == "true"

    shown = await client.get(f"{ROOT}/{squatted['id']}", headers=auth(SQUATTER))
    marked = await shown.json()
    assert marked["status"] == "disabled"
    assert marked["config"]["property_verified"] == "superseded"
    assert marked["external_id"] != PROPERTY

    # The property's chats now reach the owner alone, by the platform's secret or its own.
    assert await deliver(client, "chat-2") == 200
    own = Secret("owner-own-secret-0123")
    assert await deliver(client, "chat-3", secret=own, route=owner["id"]) == 200
    # The squatter signing with its own secret on its own route names the property in vain.
    squatter_own = Secret("squatter-own-secret-0123")
    assert await deliver(client, "chat-4", secret=squatter_own, route=squatted["id"]) == 200

    owner_chats = await chats(client, OWNER)
    assert len(owner_chats) == 2
    assert await chats(client, SQUATTER) == []

    # A second proven setup of the same property is an ordinary 409: the owner keeps it.
    again = await setup(
        client, auth, "tenant-other", webhook_secret="o-0123456789", api_key=OWNER_KEY
    )
    assert again.status == 409
