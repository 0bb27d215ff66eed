"""Every ChannelSetup adapter against its fake platform, and the Telegram and Tawk.to lifecycles.

Each must behave like ``integration_core.testing.FakeChannelSetup`` (one parametrized test runs
them all side by side): rejected credentials are :class:`InvalidCredentials`, the external id is
the routing key, and each method keeps the port's signature (checked here at run time, and by
mypy in ``adapters_platforms.conformance``). The Meta lifecycles are in
``test_meta_channel_setups.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping

import aiohttp
import attrs
import pytest

from adapters_platforms.meta_graph import (
    InstagramGraphClient,
    InstagramSetup,
    MessengerSetup,
    MetaGraphClient,
    WhatsAppSetup,
)
from adapters_platforms.tawkto import TawkToSetup
from adapters_platforms.telegram import TelegramClient, TelegramSetup
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import Conflict, InvalidCredentials, InvalidInput
from integration_core.ports import ChannelSetup
from integration_core.signatures.telegram import new_secret_token
from integration_core.testing import FakeChannelSetup
from integration_core.webhooks import routing_secret_token

from ...fakes.fake_meta import APP_ID, APP_SECRET, FakeMeta
from ...fakes.fake_tawkto import FakeTawkTo
from ...fakes.fake_telegram import FakeTelegram
from .platform_support import fast_retry, integration

TOKEN = "EAAGsystemUserToken0123456789abcdefgh"
IG_TOKEN = "IGAAinstagramLoginToken0123456789abcd"
PHONE, WABA, PAGE, IG = "106540352242922", "102290129340398", "1122334455", "17841400000000001"
BOT = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
TAWK_KEY, PROPERTY = "tawk-rest-api-key-4f1c2b9e8d7a6b5c", "5f1a2b3c4d5e6f7a8b9c0d1e"


@attrs.frozen
class Case:
    """One setup wired to its fake, with credentials it accepts and ones it rejects."""

    setup: ChannelSetup
    good: Mapping[str, Secret]
    bad: Mapping[str, Secret]
    config: Mapping[str, str]
    external_id: str


@pytest.fixture
async def cases(session: aiohttp.ClientSession) -> AsyncIterator[dict[str, Case]]:
    async with FakeMeta() as meta, FakeTelegram() as telegram, FakeTawkTo() as tawkto:
        meta.add_token(TOKEN)
        meta.add_phone_number(PHONE, waba_id=WABA)
        meta.add_page(PAGE, name="Acme Page", instagram_account_id=IG, instagram_username="acme")
        meta.add_instagram_account(IG_TOKEN, user_id=IG, username="acme")
        telegram.add_bot(BOT, username="acme_support_bot")
        tawkto.add_key(TAWK_KEY, {PROPERTY: "Acme site"})
        graph = MetaGraphClient(
            session=session,
            base_url=meta.graph_url,
            app_id=APP_ID,
            app_secret=Secret(APP_SECRET),
            retry=fast_retry(),
        )
        instagram = InstagramGraphClient(
            session=session, base_url=meta.instagram_url, retry=fast_retry()
        )
        bad_meta = {"access_token": Secret("EAAGbogus0123456789")}
        yield {
            "fake": Case(
                FakeChannelSetup(channel=Channel.WHATSAPP),
                {"access_token": Secret("valid-token")},
                {"access_token": Secret("nope")},
                {"external_id": "ext-1"},
                "ext-1",
            ),
            "whatsapp": Case(
                WhatsAppSetup(graph=graph),
                {"access_token": Secret(TOKEN)},
                bad_meta,
                {"phone_number_id": PHONE, "business_account_id": WABA},
                PHONE,
            ),
            "messenger": Case(
                MessengerSetup(graph=graph),
                {"page_access_token": Secret(TOKEN)},
                {"page_access_token": Secret("EAAGbogus0123456789")},
                {"page_id": PAGE},
                PAGE,
            ),
            "instagram-facebook-login": Case(
                InstagramSetup(graph=graph, instagram=instagram),
                {"access_token": Secret(TOKEN)},
                bad_meta,
                {"instagram_account_id": IG, "page_id": PAGE},
                IG,
            ),
            "instagram-instagram-login": Case(
                InstagramSetup(graph=graph, instagram=instagram),
                {"access_token": Secret(IG_TOKEN)},
                {"access_token": Secret("IGAAbogus0123456789")},
                {"instagram_account_id": IG},
                IG,
            ),
            "telegram": Case(
                TelegramSetup(
                    client=TelegramClient(
                        session=session, base_url=telegram.url, retry=fast_retry()
                    )
                ),
                {"bot_token": Secret(BOT)},
                {"bot_token": Secret("1:" + "x" * 35)},
                {},
                "7012345678",
            ),
            "tawkto": Case(
                TawkToSetup(session=session, base_url=tawkto.api_url, retry=fast_retry()),
                {"api_key": Secret(TAWK_KEY)},
                {"api_key": Secret("wrong-key-000")},
                {"property_id": PROPERTY},
                PROPERTY,
            ),
        }


# --------------------------------------------------------------------------- the port


@pytest.mark.parametrize(
    "setup_class", [WhatsAppSetup, MessengerSetup, InstagramSetup, TelegramSetup, TawkToSetup]
)
def test_each_setup_has_the_ports_methods_and_signatures(setup_class: type[object]) -> None:
    for name, member in inspect.getmembers(ChannelSetup, inspect.isfunction):
        if name.startswith("_"):
            continue
        implemented = getattr(setup_class, name)
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(member)
        assert list(inspect.signature(implemented).parameters) == list(
            inspect.signature(member).parameters
        ), name
    assert isinstance(getattr(setup_class, "channel", None), Channel)


@pytest.mark.parametrize(
    "name",
    [
        "fake",
        "whatsapp",
        "messenger",
        "instagram-facebook-login",
        "instagram-instagram-login",
        "telegram",
        "tawkto",
    ],
)
async def test_each_setup_validates_like_the_fake(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    account = await case.setup.validate(credentials=case.good, config=case.config)
    assert account.external_id == case.external_id
    with pytest.raises(InvalidCredentials) as rejected:
        await case.setup.validate(credentials=case.bad, config=case.config)
    for secret in case.bad.values():
        assert secret.reveal() not in str(rejected.value)


# --------------------------------------------------------------------------- Telegram


async def test_telegram_lifecycle(session: aiohttp.ClientSession) -> None:
    async with FakeTelegram() as telegram:
        bot = telegram.add_bot(BOT, username="acme_support_bot", chats=("42",))
        setup = TelegramSetup(
            client=TelegramClient(session=session, base_url=telegram.url, retry=fast_retry())
        )
        account = await setup.validate(credentials={"bot_token": Secret(BOT)}, config={})
        connected = integration(Channel.TELEGRAM, account.external_id)
        secret = routing_secret_token(connected.id, new_secret_token())
        credentials = {"bot_token": Secret(BOT), "webhook_secret_token": Secret(secret)}
        await setup.register_webhook(integration=connected, credentials=credentials)
        webhook = bot.webhook
        message_id = await setup.send_test_message(
            integration=connected, credentials=credentials, to="42", text="test"
        )
        refreshed = await setup.refresh_token(integration=connected, credentials=credentials)
        await setup.unregister_webhook(integration=connected, credentials=credentials)

        assert (account.external_id, account.display_name) == ("7012345678", "@acme_support_bot")
        assert account.token_expires_at is None
        assert webhook is not None
        assert webhook["url"] == connected.webhook_url
        assert webhook["secret_token"] == secret
        assert webhook["drop_pending_updates"] is False
        assert "message_reaction" in webhook["allowed_updates"]
        assert message_id == "1"
        assert refreshed is None  # bot tokens never expire
        assert bot.webhook is None

        with pytest.raises(InvalidCredentials, match="Unauthorized"):
            await setup.validate(credentials={"bot_token": Secret("1:" + "x" * 35)}, config={})
        calls = len(telegram.calls)
        with pytest.raises(InvalidInput, match="webhook_secret_token"):
            await setup.register_webhook(
                integration=connected, credentials={"bot_token": Secret(BOT)}
            )
        with pytest.raises(InvalidInput, match="secret token"):
            await setup.register_webhook(
                integration=connected,
                credentials={"bot_token": Secret(BOT), "webhook_secret_token": Secret("a b")},
            )
        with pytest.raises(InvalidInput, match="no webhook URL"):
            await setup.register_webhook(
                integration=integration(Channel.TELEGRAM, "7012345678", webhook_url=None),
                credentials=credentials,
            )
        assert len(telegram.calls) == calls


# --------------------------------------------------------------------------- Tawk.to


async def test_tawkto_setup(session: aiohttp.ClientSession) -> None:
    async with FakeTawkTo() as tawkto:
        tawkto.add_key(TAWK_KEY, {PROPERTY: "Acme site"})
        setup = TawkToSetup(session=session, base_url=tawkto.api_url, retry=fast_retry())
        config = {"property_id": PROPERTY}

        unverified = await setup.validate(credentials={}, config=config)
        assert tawkto.calls == []
        verified = await setup.validate(credentials={"api_key": Secret(TAWK_KEY)}, config=config)
        connected = integration(Channel.TAWKTO, PROPERTY, config=config)
        await setup.register_webhook(integration=connected, credentials={})
        await setup.unregister_webhook(integration=connected, credentials={})

        assert unverified.external_id == PROPERTY
        assert unverified.config == {"property_verified": "false"}
        assert (verified.display_name, verified.config) == (
            "Acme site",
            {"property_verified": "true"},
        )
        assert len(tawkto.calls) == 1  # webhooks live in the dashboard: no calls
        assert await setup.refresh_token(integration=connected, credentials={}) is None
        with pytest.raises(Conflict, match="no documented API"):  # as webchat: 409
            await setup.send_test_message(integration=connected, credentials={}, to="x", text="y")
        with pytest.raises(InvalidCredentials, match="cannot see property other"):
            await setup.validate(
                credentials={"api_key": Secret(TAWK_KEY)}, config={"property_id": "other"}
            )
        with pytest.raises(InvalidCredentials, match="Unauthorized"):
            await setup.validate(credentials={"api_key": Secret("wrong-key-000")}, config=config)
        with pytest.raises(InvalidInput, match="property_id"):
            await setup.validate(credentials={}, config={})
