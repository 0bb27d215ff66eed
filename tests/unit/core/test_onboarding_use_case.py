"""Onboarding and management of integrations, over the in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import (
    Conflict,
    IntegrationExists,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PlatformUnavailable,
)
from integration_core.events import DeliveryStatus, EventType
from integration_core.ids import TenantId
from integration_core.serialization import format_datetime
from integration_core.signatures import standard_webhooks
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import (
    DisconnectIntegration,
    GetIntegration,
    ListIntegrations,
    RefreshIntegrationToken,
    SendTestMessage,
    UpdateIntegration,
)
from integration_core.use_cases.onboarding import ConnectedIntegration, ConnectIntegration
from integration_core.webhooks import secret_token_owner

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BASE = "https://hooks.example.com"
ACME = TenantId("acme")
GLOBEX = TenantId("globex")
TOKEN = "valid-token-0123456789"

# channel -> (token field, external id field, credentials, config)
BODIES: Mapping[Channel, tuple[str, str, dict[str, str], dict[str, str]]] = {
    Channel.WHATSAPP: (
        "access_token",
        "phone_number_id",
        {"access_token": TOKEN, "app_secret": "meta-app-secret-abcdef"},
        {"phone_number_id": "1055", "business_account_id": "2077"},
    ),
    Channel.MESSENGER: (
        "page_access_token",
        "page_id",
        {"page_access_token": TOKEN},
        {"page_id": "page-1"},
    ),
    Channel.INSTAGRAM: (
        "access_token",
        "instagram_account_id",
        {"access_token": TOKEN, "app_secret": "insta-app-secret-zz"},
        {"instagram_account_id": "ig-1", "page_id": "page-9"},
    ),
    Channel.TELEGRAM: ("bot_token", "bot_id", {"bot_token": TOKEN}, {"bot_id": "4242"}),
    Channel.TAWKTO: (
        "webhook_secret",
        "property_id",
        {"webhook_secret": TOKEN, "api_key": "tawk-api-key-998877"},
        {"property_id": "prop-1", "widget_id": "w-1"},
    ),
    Channel.MERCADOPAGO: (
        "access_token",
        "seller_id",
        {"access_token": TOKEN, "refresh_token": "mp-refresh-token-5566"},
        {"seller_id": "seller-1"},
    ),
}
MISSING: Mapping[Channel, set[str]] = {
    Channel.WHATSAPP: {"access_token", "phone_number_id", "business_account_id"},
    Channel.MESSENGER: {"page_access_token", "page_id"},
    Channel.INSTAGRAM: {"access_token", "instagram_account_id"},
    Channel.TELEGRAM: {"bot_token"},
    Channel.TAWKTO: {"webhook_secret", "property_id"},
    Channel.MERCADOPAGO: {"access_token"},
}


class FailingRegistration(FakeChannelSetup):
    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        raise PlatformUnavailable()


class FailingUnregistration(FakeChannelSetup):
    def __init__(self, error: Exception, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.error = error

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        raise self.error


def _fake(channel: Channel, **kw: object) -> FakeChannelSetup:
    token_field, external_id_field, _, _ = BODIES[channel]
    return FakeChannelSetup(
        channel=channel,
        valid_tokens=(TOKEN,),
        token_field=token_field,
        external_id_field=external_id_field,
        **kw,  # type: ignore[arg-type]
    )


@attrs.define
class World:
    integrations: InMemoryIntegrationStore = attrs.field(factory=InMemoryIntegrationStore)
    credentials: InMemoryCredentialStore = attrs.field(factory=InMemoryCredentialStore)
    events: InMemoryEventStore = attrs.field(factory=InMemoryEventStore)
    clock: FrozenClock = attrs.field(factory=lambda: FrozenClock(AT))
    setups: dict[Channel, FakeChannelSetup] = attrs.field(
        factory=lambda: {c: _fake(c) for c in BODIES}
    )

    def connect(self) -> ConnectIntegration:
        return ConnectIntegration(
            integrations=self.integrations,
            credentials=self.credentials,
            setups=self.setups,
            clock=self.clock,
            base_url=BASE + "/",
        )

    async def connected(
        self, channel: Channel, tenant: TenantId = ACME, **config: str
    ) -> ConnectedIntegration:
        credentials, body_config = _body(channel)
        return await self.connect()(
            tenant, channel, credentials=credentials, config={**body_config, **config}
        )

    async def secret(self, integration: Integration, name: str) -> Secret:
        ref = CredentialRef(
            tenant_id=integration.tenant_id, integration_id=integration.id, name=name
        )
        return await self.credentials.get(ref)

    async def nothing_stored(self) -> bool:
        listed = [await self.integrations.list(t) for t in (ACME, GLOBEX)]
        return not any(listed) and not self.credentials._items


def _body(channel: Channel) -> tuple[dict[str, Secret], dict[str, str]]:
    if channel is Channel.WEBCHAT:
        return {}, {"allowed_origins": "https://shop.example.com", "name": "Shop"}
    _, _, credentials, config = BODIES[channel]
    return {k: Secret(v) for k, v in credentials.items()}, dict(config)


# --------------------------------------------------------------------------- connect


@pytest.mark.parametrize("channel", [*BODIES, Channel.WEBCHAT])
async def test_connect_stores_an_active_integration_with_masked_secrets(channel: Channel) -> None:
    world = World()
    result = await world.connected(channel)
    integration = result.integration
    assert integration.id.startswith("int_")
    assert integration.tenant_id == ACME
    assert integration.channel is channel
    assert integration.status is IntegrationStatus.ACTIVE
    assert integration.created_at == integration.updated_at == AT
    assert await world.integrations.get(ACME, integration.id) == integration
    path = f"{BASE}/api/v1/integrations/webhooks/{channel}"
    credentials, config = _body(channel)
    if channel in (Channel.TELEGRAM, Channel.WEBCHAT) or {"app_secret", "webhook_secret"} & set(
        credentials
    ):
        path += f"/{integration.id}"  # a secret of its own: its own route (CONTRACT v2 4)
    if channel is Channel.MERCADOPAGO:
        path = f"{BASE}/api/v1/webhooks/mercadopago"
    assert integration.webhook_url == path
    credentials, config = _body(channel)
    assert dict(integration.config).items() >= config.items()
    for name, value in credentials.items():
        assert await world.secret(integration, name) == value
        assert result.secrets_masked[name] == value.masked
    if channel is Channel.WEBCHAT:
        assert integration.external_id == integration.id
    else:
        assert integration.external_id == config[BODIES[channel][1]]
        assert world.setups[channel].registered == {integration.id: path}
    assert (result.signing_secret is not None) == (channel is Channel.WEBCHAT)


@pytest.mark.parametrize("channel", list(MISSING))
async def test_connect_lists_every_missing_field(channel: Channel) -> None:
    world = World()
    with pytest.raises(InvalidInput) as caught:
        await world.connect()(ACME, channel, credentials={}, config={})
    assert {p.removesuffix(" is required") for p in caught.value.problems} == MISSING[channel]
    assert await world.nothing_stored()


async def test_connect_treats_empty_values_as_missing_and_refuses_misplaced_secrets() -> None:
    world = World()
    with pytest.raises(InvalidInput) as caught:
        await world.connect()(
            ACME,
            Channel.MESSENGER,
            credentials={"page_access_token": Secret(""), "bot_token": Secret(TOKEN)},
            config={"page_id": "p", "app_secret": "oops"},
        )
    assert set(caught.value.problems) == {
        "page_access_token is required",
        "bot_token is not a credential of the messenger channel",
        "app_secret is a secret and cannot be part of the config",
    }
    assert await world.nothing_stored()


async def test_connect_with_rejected_credentials_stores_nothing() -> None:
    world = World()
    with pytest.raises(InvalidCredentials):
        await world.connect()(
            ACME,
            Channel.WHATSAPP,
            credentials={"access_token": Secret("wrong-token-0000")},
            config={"phone_number_id": "1", "business_account_id": "2"},
        )
    assert await world.nothing_stored()
    assert world.setups[Channel.WHATSAPP].registered == {}


async def test_an_account_connected_by_another_tenant_is_refused_before_storing() -> None:
    world = World()
    first = await world.connected(Channel.WHATSAPP, GLOBEX)
    before = dict(world.credentials._items)
    with pytest.raises(IntegrationExists):
        await world.connected(Channel.WHATSAPP, ACME)
    assert await world.integrations.list(ACME) == []
    assert world.credentials._items == before
    assert list(world.setups[Channel.WHATSAPP].registered) == [first.integration.id]


async def test_a_failed_registration_undoes_the_setup() -> None:
    world = World()
    world.setups[Channel.TELEGRAM] = FailingRegistration(
        channel=Channel.TELEGRAM,
        valid_tokens=(TOKEN,),
        token_field="bot_token",
        external_id_field="bot_id",
    )
    with pytest.raises(PlatformUnavailable):
        await world.connected(Channel.TELEGRAM)
    assert await world.nothing_stored()
    # and the account can be connected once the platform is back
    world.setups[Channel.TELEGRAM] = _fake(Channel.TELEGRAM)
    assert (await world.connected(Channel.TELEGRAM)).integration.status is IntegrationStatus.ACTIVE


async def test_an_unconfigured_channel_is_refused() -> None:
    world = World()
    del world.setups[Channel.TAWKTO]
    with pytest.raises(InvalidInput):
        await world.connected(Channel.TAWKTO)
    assert await world.nothing_stored()


@pytest.mark.parametrize("channel", [*BODIES, Channel.WEBCHAT])
async def test_no_secret_appears_in_the_result(channel: Channel) -> None:
    world = World()
    result = await world.connected(channel)
    stored = [s.reveal() for r, s in world.credentials._items.items()]
    assert stored
    for text in (repr(result), str(result), repr(result.secrets_masked)):
        for value in stored:
            assert value not in text


async def test_webchat_signing_secret_is_returned_once_and_stored() -> None:
    world = World()
    result = await world.connected(Channel.WEBCHAT)
    assert result.signing_secret is not None
    assert result.signing_secret.reveal().startswith(standard_webhooks.SECRET_PREFIX)
    assert await world.secret(result.integration, "signing_secret") == result.signing_secret
    assert result.secrets_masked == {"signing_secret": result.signing_secret.masked}
    shown = await GetIntegration(integrations=world.integrations, credentials=world.credentials)(
        ACME, result.integration.id
    )
    assert result.signing_secret.reveal() not in repr(shown)
    assert shown.secrets_masked == {"signing_secret": result.signing_secret.masked}
    again = await world.connected(Channel.WEBCHAT)
    assert again.signing_secret != result.signing_secret


async def test_telegram_secret_token_is_stored_routable_and_registered() -> None:
    world = World()
    result = await world.connected(Channel.TELEGRAM)
    token = await world.secret(result.integration, "webhook_secret_token")
    assert secret_token_owner(token.reveal()) == result.integration.id
    assert "webhook_secret_token" in result.secrets_masked
    assert result.signing_secret is None


# --------------------------------------------------------------------------- manage


async def test_get_and_list_are_tenant_scoped() -> None:
    world = World()
    mine = await world.connected(Channel.WHATSAPP, ACME)
    other = await world.connected(Channel.MESSENGER, GLOBEX)
    get = GetIntegration(integrations=world.integrations, credentials=world.credentials)
    listing = ListIntegrations(integrations=world.integrations, credentials=world.credentials)
    assert (await get(ACME, mine.integration.id)).secrets_masked == mine.secrets_masked
    with pytest.raises(NotFound):
        await get(ACME, other.integration.id)
    assert [v.integration.id for v in await listing(ACME)] == [mine.integration.id]
    assert await listing(ACME, channel=Channel.MESSENGER) == []


async def test_every_management_call_hides_another_tenants_integration() -> None:
    world = World()
    other = (await world.connected(Channel.WHATSAPP, GLOBEX)).integration
    update = UpdateIntegration(
        integrations=world.integrations, credentials=world.credentials, clock=world.clock
    )
    disconnect = DisconnectIntegration(
        integrations=world.integrations, credentials=world.credentials, setups=world.setups
    )
    send = SendTestMessage(
        integrations=world.integrations, credentials=world.credentials, setups=world.setups
    )
    refresh = RefreshIntegrationToken(
        integrations=world.integrations,
        credentials=world.credentials,
        events=world.events,
        setups=world.setups,
        clock=world.clock,
    )
    with pytest.raises(NotFound):
        await update(ACME, other.id, status=IntegrationStatus.DISABLED)
    with pytest.raises(NotFound):
        await disconnect(ACME, other.id)
    with pytest.raises(NotFound):
        await send(ACME, other.id, to="+1", text="hi")
    with pytest.raises(NotFound):
        await refresh(ACME, other.id)
    assert await world.integrations.get(GLOBEX, other.id) == other
    assert await world.secret(other, "access_token") == Secret(TOKEN)


async def test_update_disables_enables_and_merges_config() -> None:
    world = World()
    created = (await world.connected(Channel.INSTAGRAM)).integration
    update = UpdateIntegration(
        integrations=world.integrations, credentials=world.credentials, clock=world.clock
    )
    later = world.clock.advance(minutes=5)
    disabled = (await update(ACME, created.id, status=IntegrationStatus.DISABLED)).integration
    assert disabled.status is IntegrationStatus.DISABLED
    assert disabled.status_changed_at == later
    merged = (
        await update(ACME, created.id, config={"page_id": "page-10", "label": "x"})
    ).integration
    assert merged.config["page_id"] == "page-10"
    assert merged.config["label"] == "x"
    assert merged.config["instagram_account_id"] == "ig-1"
    enabled = (await update(ACME, created.id, status=IntegrationStatus.ACTIVE)).integration
    assert enabled.status is IntegrationStatus.ACTIVE
    assert await world.integrations.get(ACME, created.id) == enabled


async def test_update_refuses_routing_keys_secrets_and_other_statuses() -> None:
    world = World()
    created = (await world.connected(Channel.WHATSAPP)).integration
    update = UpdateIntegration(
        integrations=world.integrations, credentials=world.credentials, clock=world.clock
    )
    with pytest.raises(InvalidInput) as caught:
        await update(
            ACME,
            created.id,
            status=IntegrationStatus.EXPIRED,
            config={"phone_number_id": "9", "access_token": "x"},
        )
    assert len(caught.value.problems) == 3
    assert await world.integrations.get(ACME, created.id) == created


async def test_enabling_cannot_fix_an_expired_token() -> None:
    world = World()
    created = (await world.connected(Channel.WHATSAPP)).integration
    await world.integrations.update(created.with_status(IntegrationStatus.EXPIRED, at=AT))
    update = UpdateIntegration(
        integrations=world.integrations, credentials=world.credentials, clock=world.clock
    )
    with pytest.raises(Conflict):
        await update(ACME, created.id, status=IntegrationStatus.ACTIVE)


@pytest.mark.parametrize(
    "error", [InvalidCredentials(), PlatformUnavailable(), None], ids=["revoked", "down", "ok"]
)
async def test_disconnect_removes_everything_even_if_the_platform_fails(
    error: Exception | None,
) -> None:
    world = World()
    if error is not None:
        world.setups[Channel.MESSENGER] = FailingUnregistration(
            error,
            channel=Channel.MESSENGER,
            valid_tokens=(TOKEN,),
            token_field="page_access_token",
            external_id_field="page_id",
        )
    created = (await world.connected(Channel.MESSENGER)).integration
    disconnect = DisconnectIntegration(
        integrations=world.integrations, credentials=world.credentials, setups=world.setups
    )
    assert await disconnect(ACME, created.id) is (error is None)
    assert await world.nothing_stored()
    assert world.setups[Channel.MESSENGER].registered == (
        {created.id: created.webhook_url} if error else {}
    )
    with pytest.raises(NotFound):
        await disconnect(ACME, created.id)


async def test_disconnect_webchat_needs_no_platform() -> None:
    world = World()
    created = (await world.connected(Channel.WEBCHAT)).integration
    disconnect = DisconnectIntegration(
        integrations=world.integrations, credentials=world.credentials, setups={}
    )
    assert await disconnect(ACME, created.id) is False
    assert await world.nothing_stored()


async def test_send_test_message() -> None:
    world = World()
    created = (await world.connected(Channel.TELEGRAM)).integration
    send = SendTestMessage(
        integrations=world.integrations, credentials=world.credentials, setups=world.setups
    )
    assert await send(ACME, created.id, to="123", text="hello") == "fake-msg-1"
    assert world.setups[Channel.TELEGRAM].sent == [(created.id, "123", "hello")]
    with pytest.raises(InvalidInput) as caught:
        await send(ACME, created.id, to="", text="")
    assert len(caught.value.problems) == 2
    await world.integrations.update(created.with_status(IntegrationStatus.DISABLED, at=AT))
    with pytest.raises(Conflict):
        await send(ACME, created.id, to="123", text="hello")
    webchat = (await world.connected(Channel.WEBCHAT)).integration
    with pytest.raises(Conflict):
        await send(ACME, webchat.id, to="v", text="hello")


def _refresher(world: World) -> RefreshIntegrationToken:
    return RefreshIntegrationToken(
        integrations=world.integrations,
        credentials=world.credentials,
        events=world.events,
        setups=world.setups,
        clock=world.clock,
    )


@pytest.mark.parametrize(
    "status", [IntegrationStatus.EXPIRED, IntegrationStatus.REAUTHORIZATION_REQUIRED]
)
async def test_refresh_stores_the_token_and_recovers_the_integration(
    status: IntegrationStatus,
) -> None:
    world = World()
    expires = AT + timedelta(days=60)
    new_token = Secret("refreshed-token-7788")
    new_refresh = Secret("refreshed-refresh-9911")
    created = (await world.connected(Channel.MERCADOPAGO)).integration
    await world.integrations.update(created.with_status(status, at=AT))
    world.setups[Channel.MERCADOPAGO] = _fake(
        Channel.MERCADOPAGO,
        refreshed=RefreshedToken(
            access_token=new_token, expires_at=expires, refresh_token=new_refresh
        ),
    )
    later = world.clock.advance(hours=1)
    result = await _refresher(world)(ACME, created.id)
    assert result.integration.status is IntegrationStatus.ACTIVE
    assert result.integration.token_expires_at == expires
    assert result.integration.status_changed_at == later
    assert await world.integrations.get(ACME, created.id) == result.integration
    assert await world.secret(created, "access_token") == new_token
    assert await world.secret(created, "refresh_token") == new_refresh
    assert new_token.reveal() not in repr(result)
    page = await world.events.list(ACME)
    [event] = page.items
    assert event.type is EventType.INTEGRATION_RECOVERED
    assert event.status is DeliveryStatus.PENDING
    assert event.integration_id == created.id
    # The key token rotation uses too: one recovery per new token, whoever refreshed it.
    assert event.dedupe_key == f"recovered:{created.id}:{format_datetime(expires)}"
    assert event.data == {
        "integration": {
            "id": created.id,
            "channel": "mercadopago",
            "status": "active",
            "token_expires_at": "2026-07-31T12:00:00.000Z",
        }
    }


async def test_refresh_of_an_active_integration_queues_no_event() -> None:
    world = World()
    created = (await world.connected(Channel.INSTAGRAM)).integration
    expires = AT + timedelta(days=60)
    world.setups[Channel.INSTAGRAM] = _fake(
        Channel.INSTAGRAM,
        refreshed=RefreshedToken(access_token=Secret(TOKEN + "-new"), expires_at=expires),
    )
    result = await _refresher(world)(ACME, created.id)
    assert result.integration.status is IntegrationStatus.ACTIVE
    assert result.integration.token_expires_at == expires
    assert await world.secret(created, "access_token") == Secret(TOKEN + "-new")
    assert (await world.events.list(ACME)).items == ()


async def test_refresh_without_platform_support_is_a_conflict() -> None:
    world = World()
    telegram = (await world.connected(Channel.TELEGRAM)).integration
    webchat = (await world.connected(Channel.WEBCHAT)).integration
    for integration in (telegram, webchat):
        with pytest.raises(Conflict, match="cannot be refreshed"):
            await _refresher(world)(ACME, integration.id)
    assert await world.integrations.get(ACME, telegram.id) == telegram
