"""Meta's handshake with an integration's own verify token, from setup to disconnect.

A tenant whose own Meta app points at our callback gets a verify token at setup; the handshake
``GET`` (which names no account) answers the challenge for that token, for the integration's
channel only, as long as the integration exists and is not disabled. The operator's
``*_VERIFY_TOKEN`` keeps working beside it, and anything else is ``403`` (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from integration_core.channels import Channel
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIdempotencyStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import (
    DisconnectIntegration,
    GetIntegration,
    ListIntegrations,
    UpdateIntegration,
)
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce

from .conftest import VERIFY_TOKEN
from .http_webhook_support import WEBHOOKS

ROOT = "/api/v1/integrations"
TOKEN = "valid-token-0123456789"
CHALLENGE = "1158201444"
BODIES: dict[Channel, dict[str, str]] = {
    Channel.WHATSAPP: {
        "phone_number_id": "1001",
        "business_account_id": "2002",
        "access_token": TOKEN,
    },
    Channel.MESSENGER: {"page_id": "3003", "page_access_token": TOKEN},
    Channel.INSTAGRAM: {"instagram_account_id": "4004", "access_token": TOKEN},
}
TOKEN_FIELDS = {
    Channel.WHATSAPP: ("access_token", "phone_number_id"),
    Channel.MESSENGER: ("page_access_token", "page_id"),
    Channel.INSTAGRAM: ("access_token", "instagram_account_id"),
}


def handshake(token: str) -> dict[str, str]:
    return {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": CHALLENGE}


@pytest.fixture
def make_app(
    make_services: Any,
    make_client: Any,
    credentials: InMemoryCredentialStore,
    clock: FrozenClock,
) -> Callable[..., Any]:
    """Return ``make(**overrides)``: a real server with setup, update and disconnect wired."""

    async def make(**overrides: Any) -> Any:
        base = make_services()
        setups = {
            channel: FakeChannelSetup(
                channel=channel,
                valid_tokens=(TOKEN,),
                token_field=token_field,
                external_id_field=external_id_field,
            )
            for channel, (token_field, external_id_field) in TOKEN_FIELDS.items()
        }
        stores = {"integrations": base.integrations, "credentials": credentials}
        connect = ConnectIntegration(**stores, setups=setups, clock=clock, base_url="https://x")
        services = make_services(
            integrations=base.integrations,
            events=base.events,
            connect_integration=connect,
            connect_integration_once=ConnectIntegrationOnce(
                connect=connect,
                idempotency=InMemoryIdempotencyStore(),
                credentials=credentials,
                clock=clock,
            ),
            get_integration=GetIntegration(**stores),
            list_integrations=ListIntegrations(**stores),
            update_integration=UpdateIntegration(**stores, clock=clock),
            disconnect_integration=DisconnectIntegration(**stores, setups=setups),
            **overrides,
        )
        return await make_client(services)

    return make


@pytest.fixture
def write(token_for: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('integrations:read', 'integrations:write')}"}


async def connect(client: Any, write: dict[str, str], channel: Channel) -> dict[str, Any]:
    response = await client.post(f"{ROOT}/{channel}/setup", json=BODIES[channel], headers=write)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def answer(client: Any, channel: Channel | str, token: str) -> int:
    response = await client.get(f"{WEBHOOKS}/{channel}", params=handshake(token))
    if response.status == 200:
        assert await response.text() == CHALLENGE
    else:
        assert (await response.json())["error"]["code"] == "verification_failed"
    return int(response.status)


@pytest.mark.parametrize("channel", list(BODIES))
async def test_an_integrations_own_token_answers_its_channels_handshake(
    make_app: Any, write: dict[str, str], channel: Channel
) -> None:
    client = await make_app(verify_tokens={})  # no *_VERIFY_TOKEN at all
    created = await connect(client, write, channel)
    own = created["verify_token"]

    assert await answer(client, channel, own) == 200
    others = [c for c in BODIES if c is not channel]
    assert [await answer(client, c, own) for c in others] == [403, 403], "its channel only"
    assert await answer(client, channel, own + "x") == 403
    assert await answer(client, channel, own[:-1]) == 403


async def test_the_operators_token_still_works_beside_the_integrations(
    make_app: Any, write: dict[str, str]
) -> None:
    client = await make_app()
    created = await connect(client, write, Channel.WHATSAPP)

    assert await answer(client, Channel.WHATSAPP, VERIFY_TOKEN.reveal()) == 200
    assert await answer(client, Channel.WHATSAPP, created["verify_token"]) == 200
    assert await answer(client, Channel.WHATSAPP, "not-a-token") == 403


async def test_each_integration_gets_its_own_token(make_app: Any, write: dict[str, str]) -> None:
    client = await make_app(verify_tokens={})
    first = await connect(client, write, Channel.MESSENGER)
    second = await connect(client, write, Channel.INSTAGRAM)

    assert first["verify_token"] != second["verify_token"]
    assert first["config"]["verify_token_sha256"] != second["config"]["verify_token_sha256"]


async def test_nothing_matches_after_disabling_or_disconnecting(
    make_app: Any, write: dict[str, str]
) -> None:
    client = await make_app(verify_tokens={})
    created = await connect(client, write, Channel.WHATSAPP)
    one, own = f"{ROOT}/{created['id']}", created["verify_token"]

    disabled = await client.patch(one, json={"status": "disabled"}, headers=write)
    assert disabled.status == 200
    assert await answer(client, Channel.WHATSAPP, own) == 403
    assert (await client.patch(one, json={"status": "active"}, headers=write)).status == 200
    assert await answer(client, Channel.WHATSAPP, own) == 200
    assert (await client.delete(one, headers=write)).status == 204
    assert await answer(client, Channel.WHATSAPP, own) == 403


async def test_a_refused_handshake_logs_no_token(make_app: Any, write: dict[str, str]) -> None:
    client = await make_app(verify_tokens={})
    own = (await connect(client, write, Channel.WHATSAPP))["verify_token"]

    with capture_logs() as logs:
        assert await answer(client, Channel.MESSENGER, own) == 403

    [line] = [e for e in logs if e["event"] == "webhook_verification_failed"]
    assert line["reason"] == "hub.verify_token does not match"
    assert own not in repr(logs)


async def test_the_token_is_shown_once_then_only_masked(
    make_app: Any, write: dict[str, str]
) -> None:
    client = await make_app()
    created = await connect(client, write, Channel.WHATSAPP)
    own = created["verify_token"]

    shown = await client.get(f"{ROOT}/{created['id']}", headers=write)
    listed = await client.get(f"{ROOT}/channels", headers=write)

    assert own not in await shown.text() + await listed.text()
    (in_list,) = (await listed.json())["data"]
    for body in (await shown.json(), in_list):
        assert body["secrets_masked"]["verify_token"] == f"****{own[-4:]}"
        assert "verify_token" not in body


async def test_a_replayed_setup_hands_out_the_same_token(
    make_app: Any, write: dict[str, str]
) -> None:
    client = await make_app(verify_tokens={})
    headers = {**write, "Idempotency-Key": "setup-1"}
    url, body = f"{ROOT}/whatsapp/setup", BODIES[Channel.WHATSAPP]

    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)

    assert (first.status, again.status) == (201, 200)
    assert (await again.json())["verify_token"] == (await first.json())["verify_token"]


@pytest.mark.parametrize("key", ["verify_token_sha256", "verify_token"])
async def test_the_token_and_its_hash_cannot_be_changed_through_the_config(
    make_app: Any, write: dict[str, str], key: str
) -> None:
    client = await make_app(verify_tokens={})
    created = await connect(client, write, Channel.WHATSAPP)

    response = await client.patch(
        f"{ROOT}/{created['id']}", json={"config": {key: "0" * 64}}, headers=write
    )

    assert response.status == 400
    assert await answer(client, Channel.WHATSAPP, created["verify_token"]) == 200


async def test_the_operators_token_needs_no_database_and_a_lookup_fails_closed(
    make_services: Any, make_client: Any
) -> None:
    integrations = InMemoryIntegrationStore()
    integrations.available = False  # the database is down
    client = await make_client(make_services(integrations=integrations))

    assert await answer(client, Channel.WHATSAPP, VERIFY_TOKEN.reveal()) == 200
    response = await client.get(f"{WEBHOOKS}/whatsapp", params=handshake("vt_unknown"))
    assert response.status == 503, "never a 200 for a token nobody could check"
    assert (await response.json())["error"]["code"] == "storage_unavailable"
