"""Disconnecting keeps a webhook subscription that another integration still receives through.

Meta subscribes our app per WhatsApp business account and per Facebook Page, so two numbers of
one WABA, or a Messenger page and the Instagram account linked through it, share one
subscription: only the last integration to leave may undo it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integration_core.channels import Channel, Integration
from integration_core.credentials import Secret
from integration_core.ids import TenantId
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import DisconnectIntegration
from integration_core.use_cases.onboarding import ConnectIntegration

ACME = TenantId("acme")
GLOBEX = TenantId("globex")
TOKEN = "valid-token-0123456789"


class World:
    def __init__(self) -> None:
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.setups = {
            Channel.WHATSAPP: FakeChannelSetup(
                channel=Channel.WHATSAPP,
                valid_tokens=(TOKEN,),
                external_id_field="phone_number_id",
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
        }
        self.disconnect = DisconnectIntegration(
            integrations=self.integrations, credentials=self.credentials, setups=self.setups
        )

    async def connect(self, tenant: TenantId, channel: Channel, **config: str) -> Integration:
        token_field = "page_access_token" if channel is Channel.MESSENGER else "access_token"
        connect = ConnectIntegration(
            integrations=self.integrations,
            credentials=self.credentials,
            setups=self.setups,
            clock=FrozenClock(datetime(2026, 6, 1, tzinfo=UTC)),
            base_url="https://hooks.example.com",
        )
        connected = await connect(
            tenant, channel, credentials={token_field: Secret(TOKEN)}, config=config
        )
        return connected.integration

    def subscribed(self, channel: Channel) -> set[str]:
        return set(self.setups[channel].registered)


async def test_two_numbers_of_one_waba_unsubscribe_only_with_the_last() -> None:
    world = World()
    first = await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1001", business_account_id="waba-1"
    )
    second = await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1002", business_account_id="waba-1"
    )

    assert await world.disconnect(ACME, first.id) is False
    assert world.subscribed(Channel.WHATSAPP) == {first.id, second.id}

    assert await world.disconnect(ACME, second.id) is True
    assert world.subscribed(Channel.WHATSAPP) == {first.id}  # the fake records per integration


async def test_a_number_of_another_waba_does_not_keep_the_subscription() -> None:
    world = World()
    first = await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1001", business_account_id="waba-1"
    )
    await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1002", business_account_id="waba-2"
    )

    assert await world.disconnect(ACME, first.id) is True


async def test_the_waba_is_shared_across_tenants_too() -> None:
    world = World()
    first = await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1001", business_account_id="waba-1"
    )
    await world.connect(
        GLOBEX, Channel.WHATSAPP, phone_number_id="1002", business_account_id="waba-1"
    )

    assert await world.disconnect(ACME, first.id) is False
    assert await world.integrations.find(first.id) is None


@pytest.mark.parametrize("leaving", [Channel.MESSENGER, Channel.INSTAGRAM])
async def test_a_page_shared_by_messenger_and_instagram_stays_subscribed(
    leaving: Channel,
) -> None:
    world = World()
    messenger = await world.connect(ACME, Channel.MESSENGER, page_id="page-7")
    instagram = await world.connect(
        ACME, Channel.INSTAGRAM, instagram_account_id="ig-7", page_id="page-7"
    )
    gone, staying = (
        (messenger, instagram) if leaving is Channel.MESSENGER else (instagram, messenger)
    )

    assert await world.disconnect(ACME, gone.id) is False
    assert await world.integrations.find(gone.id) is None
    assert await world.disconnect(ACME, staying.id) is True


async def test_instagram_login_has_its_own_subscription() -> None:
    world = World()
    await world.connect(ACME, Channel.MESSENGER, page_id="page-7")
    instagram = await world.connect(ACME, Channel.INSTAGRAM, instagram_account_id="ig-7")

    assert await world.disconnect(ACME, instagram.id) is True


async def test_a_waba_id_equal_to_a_page_id_is_not_a_shared_subscription() -> None:
    world = World()
    number = await world.connect(
        ACME, Channel.WHATSAPP, phone_number_id="1001", business_account_id="555"
    )
    await world.connect(ACME, Channel.MESSENGER, page_id="555")

    assert await world.disconnect(ACME, number.id) is True
