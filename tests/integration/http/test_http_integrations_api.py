"""The integrations API over the in-memory fakes: setup per channel, show, change, disconnect."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest

from integration_core.channels import Channel, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret
from integration_core.serialization import format_datetime
from integration_core.testing import FakeChannelSetup, FrozenClock, InMemoryCredentialStore
from integration_core.use_cases.integrations import (
    DisconnectIntegration,
    GetIntegration,
    ListIntegrations,
    RefreshIntegrationToken,
    SendTestMessage,
    UpdateIntegration,
)
from integration_core.use_cases.onboarding import ConnectIntegration

from .conftest import MakeClient, MakeServices

ROOT = "/api/v1/integrations"
BASE_URL = "https://hooks.example.com"
TOKEN = "valid-token-0123456789-SECRETVALUE"
APP_SECRET = "app-secret-abcdefghijkl-SECRETVALUE"
TAWK_SECRET = "tawk-webhook-secret-SECRETVALUE"
BOT_TOKEN = "123456:bot-token-SECRETVALUE"
REFRESHED = "refreshed-token-0123456789"

BODIES: Mapping[Channel, dict[str, Any]] = {
    Channel.WHATSAPP: {
        "phone_number_id": "1001",
        "business_account_id": "2002",
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
    },
    Channel.MESSENGER: {"page_id": "3003", "page_access_token": TOKEN},
    Channel.INSTAGRAM: {"instagram_account_id": "4004", "access_token": TOKEN, "page_id": "3003"},
    Channel.TELEGRAM: {"bot_token": BOT_TOKEN},
    Channel.WEBCHAT: {"name": "Site", "allowed_origins": ["https://shop.example.com"]},
    Channel.TAWKTO: {"property_id": "prop-1", "webhook_secret": TAWK_SECRET},
}
EXTERNAL_IDS = {
    Channel.WHATSAPP: "1001",
    Channel.MESSENGER: "3003",
    Channel.INSTAGRAM: "4004",
    Channel.TELEGRAM: "123456",
    Channel.TAWKTO: "prop-1",
}
SECRET_VALUES = (TOKEN, APP_SECRET, TAWK_SECRET, BOT_TOKEN)


class FakeTelegramSetup(FakeChannelSetup):
    """The bot id comes from the token, as Telegram's ``getMe`` answers."""

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        self._require_valid(credentials)
        return ValidatedAccount(external_id=credentials["bot_token"].reveal().split(":")[0])


@pytest.fixture
def setups(clock: FrozenClock) -> dict[Channel, FakeChannelSetup]:
    refreshed = RefreshedToken(
        access_token=Secret(REFRESHED), expires_at=clock.now() + timedelta(days=60)
    )
    return {
        Channel.WHATSAPP: FakeChannelSetup(
            channel=Channel.WHATSAPP,
            valid_tokens=(TOKEN,),
            external_id_field="phone_number_id",
            refreshed=refreshed,
        ),
        Channel.MESSENGER: FakeChannelSetup(
            channel=Channel.MESSENGER,
            valid_tokens=(TOKEN,),
            token_field="page_access_token",
            external_id_field="page_id",
        ),
        Channel.INSTAGRAM: FakeChannelSetup(
            channel=Channel.INSTAGRAM,
            valid_tokens=(TOKEN,),
            external_id_field="instagram_account_id",
        ),
        Channel.TELEGRAM: FakeTelegramSetup(
            channel=Channel.TELEGRAM,
            valid_tokens=(BOT_TOKEN,),
            token_field="bot_token",
        ),
        Channel.TAWKTO: FakeChannelSetup(
            channel=Channel.TAWKTO,
            valid_tokens=(TAWK_SECRET,),
            token_field="webhook_secret",
            external_id_field="property_id",
        ),
    }


@pytest.fixture
def services(
    make_services: MakeServices,
    credentials: InMemoryCredentialStore,
    clock: FrozenClock,
    setups: dict[Channel, FakeChannelSetup],
) -> Any:
    base = make_services()
    stores = {"integrations": base.integrations, "credentials": credentials}
    return make_services(
        integrations=base.integrations,
        events=base.events,
        connect_integration=ConnectIntegration(
            **stores, setups=setups, clock=clock, base_url=BASE_URL + "/"
        ),
        list_integrations=ListIntegrations(**stores),
        get_integration=GetIntegration(**stores),
        update_integration=UpdateIntegration(**stores, clock=clock),
        disconnect_integration=DisconnectIntegration(**stores, setups=setups),
        send_test_message=SendTestMessage(**stores, setups=setups),
        refresh_integration_token=RefreshIntegrationToken(
            **stores, events=base.events, setups=setups, clock=clock
        ),
    )


@pytest.fixture
async def client(make_client: MakeClient, services: Any) -> Any:
    return await make_client(services)


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(*scopes: str, tenant: str = "tenant-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(*scopes, tenant=tenant)}"}

    return make


@pytest.fixture
def write(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("integrations:read", "integrations:write")


async def connect(
    client: Any, headers: dict[str, str], channel: Channel = Channel.WHATSAPP
) -> dict[str, Any]:
    response = await client.post(f"{ROOT}/{channel}/setup", json=BODIES[channel], headers=headers)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("channel", list(BODIES))
async def test_setup_answers_201_with_the_integration_and_no_secret(
    client: Any, write: dict[str, str], channel: Channel, setups: Any
) -> None:
    response = await client.post(f"{ROOT}/{channel}/setup", json=BODIES[channel], headers=write)

    assert response.status == 201
    text = await response.text()
    body = await response.json()
    expected_keys = {
        "id",
        "tenant_id",
        "channel",
        "status",
        "external_id",
        "config",
        "webhook_url",
        "secrets_masked",
        "token_expires_at",
        "created_at",
        "updated_at",
    }
    if channel is Channel.WEBCHAT:
        expected_keys.add("signing_secret")
        assert body["signing_secret"].startswith("whsec_")
        assert body["config"] == {"name": "Site", "allowed_origins": "https://shop.example.com"}
        assert body["external_id"] == body["id"]
    else:
        assert body["external_id"] == EXTERNAL_IDS[channel]
    if channel.is_meta:  # its own verify token, shown this once; the config keeps its hash
        expected_keys.add("verify_token")
        token = body["verify_token"]
        assert token.startswith("vt_")
        assert body["config"]["verify_token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
        assert body["secrets_masked"]["verify_token"] == f"****{token[-4:]}"
    assert set(body) == expected_keys
    assert body["id"].startswith("int_")
    assert response.headers["Location"] == f"{ROOT}/{body['id']}"
    assert body["tenant_id"] == "tenant-1"
    assert body["channel"] == channel
    assert body["status"] == "active"
    assert body["webhook_url"].startswith(f"{BASE_URL}/api/v1/integrations/webhooks/{channel}")
    for value in SECRET_VALUES:
        assert value not in text
    assert all(v.startswith("****") for v in body["secrets_masked"].values())
    if channel is Channel.TELEGRAM:
        assert (
            body["webhook_url"] == f"{BASE_URL}/api/v1/integrations/webhooks/telegram/{body['id']}"
        )
        assert setups[channel].registered == {body["id"]: body["webhook_url"]}
        assert "bot_token" in body["secrets_masked"]


async def test_setup_with_missing_fields_lists_every_problem(
    client: Any, write: dict[str, str]
) -> None:
    response = await client.post(
        f"{ROOT}/whatsapp/setup", json={"phone_number_id": "1", "bogus": "x"}, headers=write
    )

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    problems = error["details"]["problems"]
    assert "access_token is required" in problems
    assert "business_account_id is required" in problems
    assert any("bogus" in p for p in problems)


async def test_setup_with_a_non_string_field_is_400(client: Any, write: dict[str, str]) -> None:
    response = await client.post(f"{ROOT}/telegram/setup", json={"bot_token": 42}, headers=write)

    assert response.status == 400
    assert "bot_token must be a string" in (await response.json())["error"]["details"]["problems"]


@pytest.mark.parametrize("character", ["\n", "\r", "\x00", "\x7f"])
async def test_a_secret_with_a_control_character_is_400(
    client: Any, write: dict[str, str], character: str
) -> None:
    # Secrets go to the platforms in HTTP headers, where such a character cannot go (was a 500).
    body = {**BODIES[Channel.WHATSAPP], "access_token": TOKEN + character}
    response = await client.post(f"{ROOT}/whatsapp/setup", json=body, headers=write)

    assert response.status == 400
    problems = (await response.json())["error"]["details"]["problems"]
    assert "access_token must not contain control characters" in problems


async def test_json_values_are_never_taken_as_text(client: Any, write: dict[str, str]) -> None:
    created = await connect(client, write)
    one = f"{ROOT}/{created['id']}"

    for body in ({"config": {"label": 1}}, {"config": {"label": None}}, {"status": 5}):
        response = await client.patch(one, json=body, headers=write)
        assert response.status == 400, body
    response = await client.post(f"{one}/test-message", json={"to": None, "text": 1}, headers=write)
    assert response.status == 400
    shown = await (await client.get(one, headers=write)).json()
    assert "label" not in shown["config"]


async def test_rejected_credentials_are_422(client: Any, write: dict[str, str]) -> None:
    body = {**BODIES[Channel.MESSENGER], "page_access_token": "wrong-token-0123456789"}
    response = await client.post(f"{ROOT}/messenger/setup", json=body, headers=write)

    assert response.status == 422
    assert (await response.json())["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("name", ["paypal", "sms", "webhooks"])
async def test_unknown_or_unavailable_channels_are_404(
    client: Any, write: dict[str, str], name: str
) -> None:
    response = await client.post(f"{ROOT}/{name}/setup", json={}, headers=write)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_the_same_account_of_another_tenant_is_409(
    client: Any, write: dict[str, str], auth: Callable[..., dict[str, str]]
) -> None:
    await connect(client, write)
    other = auth("integrations:write", tenant="tenant-2")

    response = await client.post(
        f"{ROOT}/whatsapp/setup", json=BODIES[Channel.WHATSAPP], headers=other
    )

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "integration_exists"


async def test_scopes_are_enforced(
    client: Any, write: dict[str, str], auth: Callable[..., dict[str, str]]
) -> None:
    created = await connect(client, write)
    read_only = auth("integrations:read")
    one = f"{ROOT}/{created['id']}"

    assert (await client.get(f"{ROOT}/channels", headers=read_only)).status == 200
    assert (await client.get(one, headers=read_only)).status == 200
    refused = [
        await client.post(
            f"{ROOT}/telegram/setup", json=BODIES[Channel.TELEGRAM], headers=read_only
        ),
        await client.patch(one, json={"status": "disabled"}, headers=read_only),
        await client.delete(one, headers=read_only),
        await client.post(f"{one}/test-message", json={"to": "1", "text": "hi"}, headers=read_only),
        await client.post(f"{one}/refresh-token", headers=read_only),
    ]
    assert [r.status for r in refused] == [403] * 5
    events_only = auth("events:read")
    assert (await client.get(f"{ROOT}/channels", headers=events_only)).status == 403
    assert (await client.get(one)).status == 401


async def test_another_tenants_integration_is_not_found(
    client: Any, write: dict[str, str], auth: Callable[..., dict[str, str]], setups: Any
) -> None:
    created = await connect(client, write)
    other = auth("integrations:read", "integrations:write", tenant="tenant-2")
    one = f"{ROOT}/{created['id']}"

    responses = [
        await client.get(one, headers=other),
        await client.patch(one, json={"status": "disabled"}, headers=other),
        await client.delete(one, headers=other),
        await client.post(f"{one}/test-message", json={"to": "1", "text": "hi"}, headers=other),
        await client.post(f"{one}/refresh-token", headers=other),
    ]

    assert [r.status for r in responses] == [404] * 5
    listed = await (await client.get(f"{ROOT}/channels", headers=other)).json()
    assert listed["data"] == []
    assert (await client.get(one, headers=write)).status == 200
    assert setups[Channel.WHATSAPP].sent == []


async def test_channels_lists_the_tenants_integrations_and_supported_channels(
    client: Any, write: dict[str, str], auth: Callable[..., dict[str, str]]
) -> None:
    whatsapp = await connect(client, write)
    telegram = await connect(client, write, Channel.TELEGRAM)
    await connect(client, auth("integrations:write", tenant="tenant-2"), Channel.MESSENGER)

    response = await client.get(f"{ROOT}/channels/", headers=write)

    assert response.status == 200
    body = await response.json()
    # The frozen clock gives both ids the same millisecond: their order is not defined here.
    assert {i["id"] for i in body["data"]} == {whatsapp["id"], telegram["id"]}
    assert body["channels"] == [
        "whatsapp",
        "messenger",
        "instagram",
        "telegram",
        "webchat",
        "tawkto",
        "mercadopago",
    ]
    text = await response.text()
    assert all(value not in text for value in SECRET_VALUES)


async def test_get_shows_the_integration_with_secrets_masked(
    client: Any, write: dict[str, str]
) -> None:
    created = await connect(client, write)

    response = await client.get(f"{ROOT}/{created['id']}", headers=write)

    assert response.status == 200
    body = await response.json()
    shown = {k: v for k, v in body.items() if k != "status_history"}
    assert shown == {k: v for k, v in created.items() if k != "verify_token"}, "shown once only"
    assert set(body["secrets_masked"]) == {"access_token", "app_secret", "verify_token"}
    assert created["verify_token"] not in await response.text()
    text = await response.text()
    assert all(value not in text for value in SECRET_VALUES)


async def test_patch_disables_and_enables_and_merges_config(
    client: Any, write: dict[str, str]
) -> None:
    created = await connect(client, write)
    one = f"{ROOT}/{created['id']}"

    disabled = await client.patch(one, json={"status": "disabled"}, headers=write)
    assert disabled.status == 200
    assert (await disabled.json())["status"] == "disabled"
    assert (await (await client.get(one, headers=write)).json())["status"] == "disabled"

    enabled = await client.patch(
        one, json={"status": "active", "config": {"label": "Support"}}, headers=write
    )
    body = await enabled.json()
    assert enabled.status == 200
    assert body["status"] == "active"
    assert body["config"]["label"] == "Support"
    assert body["config"]["phone_number_id"] == "1001"


async def test_get_shows_every_status_change_oldest_first_and_lists_do_not(
    client: Any, auth: Callable[..., dict[str, str]], clock: FrozenClock
) -> None:
    created = await connect(client, auth("integrations:read", "integrations:write"))
    one = f"{ROOT}/{created['id']}"

    async def patch_later(by: timedelta, body: dict[str, Any]) -> Any:
        clock.advance(by)  # a fresh token each time: the old one may have run out
        headers = auth("integrations:read", "integrations:write")
        response = await client.patch(one, json=body, headers=headers)
        assert response.status == 200, await response.text()
        return response

    patched = await patch_later(timedelta(hours=2, milliseconds=5), {"status": "disabled"})
    disabled_at = format_datetime(clock.now())
    await patch_later(timedelta(minutes=30), {"status": "active"})
    enabled_at = format_datetime(clock.now())
    await patch_later(timedelta(minutes=1), {"config": {"label": "Support"}})  # no change
    read = auth("integrations:read")

    body = await (await client.get(one, headers=read)).json()

    assert body["status_history"] == [
        {"status": "active", "at": created["created_at"]},
        {"status": "disabled", "at": disabled_at},
        {"status": "active", "at": enabled_at},
    ]
    assert "status_history" not in created
    assert "status_history" not in await patched.json()
    listed = await (await client.get(f"{ROOT}/channels", headers=read)).json()
    assert [item["id"] for item in listed["data"]] == [created["id"]]
    assert "status_history" not in listed["data"][0]


async def test_patch_refuses_bad_changes(client: Any, write: dict[str, str]) -> None:
    created = await connect(client, write)
    one = f"{ROOT}/{created['id']}"

    expired = await client.patch(one, json={"status": "expired"}, headers=write)
    account = await client.patch(one, json={"config": {"phone_number_id": "9"}}, headers=write)
    extra = await client.patch(one, json={"nope": 1}, headers=write)

    assert [r.status for r in (expired, account, extra)] == [400, 400, 400]


async def test_delete_answers_204_then_404(
    client: Any, write: dict[str, str], setups: Any, credentials: InMemoryCredentialStore
) -> None:
    created = await connect(client, write, Channel.TELEGRAM)
    one = f"{ROOT}/{created['id']}"

    deleted = await client.delete(one, headers=write)

    assert deleted.status == 204
    assert setups[Channel.TELEGRAM].registered == {}
    assert (await client.get(one, headers=write)).status == 404
    assert (await client.delete(one, headers=write)).status == 404


async def test_test_message_returns_the_platform_message_id(
    client: Any, write: dict[str, str], setups: Any
) -> None:
    created = await connect(client, write)
    one = f"{ROOT}/{created['id']}"

    response = await client.post(
        f"{one}/test-message", json={"to": "5491100", "text": "hi"}, headers=write
    )

    assert response.status == 200
    assert await response.json() == {"message_id": "fake-msg-1"}
    assert setups[Channel.WHATSAPP].sent == [(created["id"], "5491100", "hi")]
    empty = await client.post(f"{one}/test-message", json={"to": "", "text": ""}, headers=write)
    assert empty.status == 400
    assert len((await empty.json())["error"]["details"]["problems"]) == 2
    await client.patch(one, json={"status": "disabled"}, headers=write)
    disabled = await client.post(
        f"{one}/test-message", json={"to": "1", "text": "x"}, headers=write
    )
    assert disabled.status == 409


async def test_refresh_token_stores_the_new_token(
    client: Any, write: dict[str, str], clock: FrozenClock
) -> None:
    created = await connect(client, write)

    response = await client.post(f"{ROOT}/{created['id']}/refresh-token", headers=write)

    assert response.status == 200
    body = await response.json()
    assert body["secrets_masked"]["access_token"] == f"****{REFRESHED[-4:]}"
    assert body["token_expires_at"] is not None
    assert REFRESHED not in await response.text()


async def test_refresh_token_of_a_channel_without_refresh_is_409(
    client: Any, write: dict[str, str]
) -> None:
    created = await connect(client, write, Channel.MESSENGER)

    response = await client.post(f"{ROOT}/{created['id']}/refresh-token", headers=write)

    assert response.status == 409
    assert (await response.json())["error"]["code"] == "conflict"
