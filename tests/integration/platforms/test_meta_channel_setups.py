"""The Meta channel setups (WhatsApp, Messenger, Instagram) against the fake Meta.

Like ``integration_core.testing.FakeChannelSetup``: rejected credentials are
:class:`InvalidCredentials`, the external id is the routing key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from adapters_platforms.meta_graph import (
    InstagramGraphClient,
    InstagramSetup,
    MessengerSetup,
    MetaGraphClient,
    WhatsAppSetup,
)
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import (
    ConfigurationError,
    InvalidCredentials,
    InvalidInput,
    PermissionMissing,
)
from integration_core.ports import ChannelSetup
from integration_core.testing import FrozenClock

from ...fakes.fake_meta import APP_ID, APP_SECRET, LONG_LIVED_SECONDS, FakeMeta
from .platform_support import AT, fast_retry, integration

TOKEN = "EAAGsystemUserToken0123456789abcdefgh"
PAGE_TOKEN = "EAAGpageAccessToken0123456789abcdefgh"
IG_TOKEN = "IGAAinstagramLoginToken0123456789abcd"
PHONE, WABA, PAGE, IG = "106540352242922", "102290129340398", "1122334455", "17841400000000001"
EXPIRES = 1_790_000_000


@pytest.fixture
async def meta() -> AsyncIterator[FakeMeta]:
    async with FakeMeta() as fake:
        fake.add_token(TOKEN)
        fake.add_token(PAGE_TOKEN, type="PAGE", expires_at=EXPIRES)
        fake.add_phone_number(PHONE, waba_id=WABA)
        fake.add_page(PAGE, name="Acme Page", instagram_account_id=IG, instagram_username="acme")
        fake.add_instagram_account(IG_TOKEN, user_id=IG, username="acme")
        yield fake


def graph(session: aiohttp.ClientSession, meta: FakeMeta, *, app: bool = True) -> MetaGraphClient:
    return MetaGraphClient(
        session=session,
        base_url=meta.graph_url,
        app_id=APP_ID if app else None,
        app_secret=Secret(APP_SECRET) if app else None,
        retry=fast_retry(),
        clock=FrozenClock(AT),
    )


def instagram_setup(session: aiohttp.ClientSession, meta: FakeMeta) -> InstagramSetup:
    instagram = InstagramGraphClient(
        session=session, base_url=meta.instagram_url, retry=fast_retry(), clock=FrozenClock(AT)
    )
    return InstagramSetup(graph=graph(session, meta), instagram=instagram, clock=FrozenClock(AT))


# --------------------------------------------------------------------------- WhatsApp


async def test_whatsapp_lifecycle(meta: FakeMeta, session: aiohttp.ClientSession) -> None:
    setup: ChannelSetup = WhatsAppSetup(graph=graph(session, meta))
    credentials = {"access_token": Secret(TOKEN)}
    config = {"phone_number_id": PHONE, "business_account_id": WABA}

    account = await setup.validate(credentials=credentials, config=config)
    connected = integration(Channel.WHATSAPP, account.external_id, config=config)
    await setup.register_webhook(integration=connected, credentials=credentials)
    registered = dict(meta.subscriptions)
    wamid = await setup.send_test_message(
        integration=connected, credentials=credentials, to="5491155550000", text="test"
    )
    refreshed = await setup.refresh_token(integration=connected, credentials=credentials)
    await setup.unregister_webhook(integration=connected, credentials=credentials)

    assert account.external_id == PHONE
    assert account.display_name == "Acme Support"
    assert account.token_expires_at is None  # a system-user token never expires
    assert account.config == {
        "display_phone_number": "+1 555-0100",
        "verified_name": "Acme Support",
        "quality_rating": "GREEN",
    }
    assert registered == {WABA: ()}
    assert wamid.startswith("wamid.")
    assert refreshed is not None
    assert refreshed.expires_at == AT + timedelta(seconds=LONG_LIVED_SECONDS)
    assert meta.subscriptions == {}


async def test_whatsapp_validation_failures(meta: FakeMeta, session: aiohttp.ClientSession) -> None:
    meta.add_token("EAAGnoMessagingScope0123456789abcd", scopes=("pages_messaging",))
    setup = WhatsAppSetup(graph=graph(session, meta))
    config = {"phone_number_id": PHONE, "business_account_id": WABA}

    with pytest.raises(InvalidCredentials, match="Malformed access token"):
        await setup.validate(
            credentials={"access_token": Secret("EAAGbogus0123456")}, config=config
        )
    with pytest.raises(InvalidCredentials, match="does not exist"):  # a 400 during validation
        await setup.validate(
            credentials={"access_token": Secret(TOKEN)}, config={**config, "phone_number_id": "9"}
        )
    with pytest.raises(PermissionMissing, match="whatsapp_business_messaging"):
        await setup.validate(
            credentials={"access_token": Secret("EAAGnoMessagingScope0123456789abcd")},
            config=config,
        )
    calls = len(meta.calls)
    with pytest.raises(InvalidInput, match="business_account_id"):
        await setup.validate(
            credentials={"access_token": Secret(TOKEN)}, config={"phone_number_id": PHONE}
        )
    with pytest.raises(InvalidInput, match="access_token"):
        await setup.validate(credentials={}, config=config)
    assert len(meta.calls) == calls  # input mistakes are caught before any call


async def test_meta_without_app_credentials_cannot_know_expiry_or_refresh(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    setup = WhatsAppSetup(graph=graph(session, meta, app=False))
    credentials = {"access_token": Secret(TOKEN)}
    config = {"phone_number_id": PHONE, "business_account_id": WABA}
    account = await setup.validate(credentials=credentials, config=config)
    connected = integration(Channel.WHATSAPP, PHONE, config=config)
    assert account.token_expires_at is None
    assert await setup.refresh_token(integration=connected, credentials=credentials) is None
    assert meta.calls_to("/debug_token") == []


async def test_wrong_app_credentials_are_a_configuration_error(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = MetaGraphClient(
        session=session,
        base_url=meta.graph_url,
        app_id=APP_ID,
        app_secret=Secret("not-the-app-secret-0000"),
        retry=fast_retry(),
    )
    with pytest.raises(ConfigurationError, match="app credentials") as caught:
        await WhatsAppSetup(graph=client).validate(
            credentials={"access_token": Secret(TOKEN)},
            config={"phone_number_id": PHONE, "business_account_id": WABA},
        )
    assert "not-the-app-secret" not in str(caught.value)


# --------------------------------------------------------------------------- Messenger


async def test_messenger_lifecycle(meta: FakeMeta, session: aiohttp.ClientSession) -> None:
    setup = MessengerSetup(graph=graph(session, meta))
    credentials = {"page_access_token": Secret(PAGE_TOKEN)}

    account = await setup.validate(credentials=credentials, config={"page_id": PAGE})
    connected = integration(Channel.MESSENGER, PAGE, config={"page_id": PAGE})
    await setup.register_webhook(integration=connected, credentials=credentials)
    fields = meta.subscriptions[PAGE]
    mid = await setup.send_test_message(
        integration=connected, credentials=credentials, to="psid-1", text="test"
    )
    await setup.unregister_webhook(integration=connected, credentials=credentials)

    assert (account.external_id, account.display_name) == (PAGE, "Acme Page")
    assert account.token_expires_at == datetime.fromtimestamp(EXPIRES, UTC)
    assert fields == (
        "messages",
        "messaging_postbacks",
        "message_deliveries",
        "message_reads",
        "message_echoes",
    )
    assert mid.startswith("m_")
    assert PAGE not in meta.subscriptions
    with pytest.raises(InvalidCredentials, match="does not exist"):
        await setup.validate(credentials=credentials, config={"page_id": "404"})


# --------------------------------------------------------------------------- Instagram


async def test_instagram_with_facebook_login(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    setup = instagram_setup(session, meta)
    credentials = {"access_token": Secret(PAGE_TOKEN)}
    config = {"instagram_account_id": IG, "page_id": PAGE}

    account = await setup.validate(credentials=credentials, config=config)
    connected = integration(Channel.INSTAGRAM, IG, config=config)
    await setup.register_webhook(integration=connected, credentials=credentials)
    mid = await setup.send_test_message(
        integration=connected, credentials=credentials, to="igsid-1", text="test"
    )
    refreshed = await setup.refresh_token(integration=connected, credentials=credentials)

    assert (account.external_id, account.display_name) == (IG, "@acme")
    assert account.token_expires_at == datetime.fromtimestamp(EXPIRES, UTC)
    assert account.config == {"login": "facebook"}
    assert PAGE in meta.subscriptions
    assert mid.startswith("m_")
    assert meta.sent[-1]["from"] == PAGE
    assert refreshed is not None
    assert meta.calls_to("/oauth/access_token")
    meta.add_page("777", name="Unlinked page")
    with pytest.raises(InvalidCredentials, match="not linked"):
        await setup.validate(credentials=credentials, config={**config, "page_id": "777"})


async def test_instagram_with_instagram_login(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    setup = instagram_setup(session, meta)
    credentials = {"access_token": Secret(IG_TOKEN)}
    config = {"instagram_account_id": IG}

    account = await setup.validate(credentials=credentials, config=config)
    connected = integration(Channel.INSTAGRAM, IG, config=config)
    await setup.register_webhook(integration=connected, credentials=credentials)
    subscribed = dict(meta.subscriptions)
    mid = await setup.send_test_message(
        integration=connected, credentials=credentials, to="igsid-1", text="test"
    )
    refreshed = await setup.refresh_token(integration=connected, credentials=credentials)
    await setup.unregister_webhook(integration=connected, credentials=credentials)

    assert (account.external_id, account.display_name) == (IG, "@acme")
    # Nothing reads an Instagram Login token's expiry, and one just issued cannot be refreshed
    # yet: half its 60 days is assumed, flagged, and no refresh was spent on learning it.
    assert account.token_expires_at == AT + timedelta(days=30)
    assert account.config == {"login": "instagram", "token_expiry_estimated": "true"}
    assert meta.calls_to("/debug_token") == []
    assert len(meta.calls_to("/refresh_access_token")) == 1  # the explicit refresh below
    assert subscribed == {
        f"instagram:{IG}": (
            "messages",
            "messaging_postbacks",
            "messaging_seen",
            "messaging_reactions",
        )
    }
    assert mid.startswith("ig_m_")
    assert refreshed is not None
    assert refreshed.expires_at == AT + timedelta(seconds=LONG_LIVED_SECONDS)
    assert meta.subscriptions == {}
    assert not any(call.path.startswith("/v26.0") for call in meta.calls)
    with pytest.raises(InvalidCredentials, match="not for Instagram account 1"):
        await setup.validate(credentials=credentials, config={"instagram_account_id": "1"})
