"""Token rotation over the in-memory fakes and a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import (
    Conflict,
    CredentialsUnavailable,
    NotFound,
    PlatformUnavailable,
)
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.testing import (
    FakeChannelSetup,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.integrations import RefreshIntegrationToken
from integration_core.use_cases.onboarding import TOKEN_FIELD
from integration_core.use_cases.token_rotation import (
    RotateTokens,
    RotationOutcome,
    RotationPolicy,
    RotationReport,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACME = TenantId("acme")
OLD = "old-token-0001"
NEW = "new-token-0002"
POLICY = RotationPolicy(
    margin=timedelta(days=10),
    probe_interval=timedelta(hours=24),
    cooldown=timedelta(hours=1),
    max_cooldown=timedelta(hours=4),
    max_failures=4,
)


class World:
    """The stores, one fake setup per channel and the use case, at a frozen time."""

    def __init__(self, *channels: Channel, policy: RotationPolicy = POLICY) -> None:
        self.clock = FrozenClock(T0)
        self.integrations = InMemoryIntegrationStore()
        self.credentials = InMemoryCredentialStore()
        self.events = InMemoryEventStore()
        self.setups: dict[Channel, FakeChannelSetup] = {
            c: FakeChannelSetup(channel=c, valid_tokens=(OLD, NEW), token_field=TOKEN_FIELD[c])
            for c in channels
        }
        self.rotate = RotateTokens(
            integrations=self.integrations,
            credentials=self.credentials,
            events=self.events,
            setups=self.setups,
            clock=self.clock,
            policy=policy,
        )

    async def connect(
        self,
        channel: Channel,
        *,
        expires_in: timedelta | None,
        status: IntegrationStatus = IntegrationStatus.ACTIVE,
        token: str = OLD,
        **secrets: str,
    ) -> Integration:
        integration = Integration(
            id=new_id("int"),
            tenant_id=ACME,
            channel=channel,
            status=status,
            external_id=f"acct-{new_id('x')}",
            config={"external_id": "acct"},
            token_expires_at=None if expires_in is None else self.clock.now() + expires_in,
            created_at=T0 - timedelta(days=50),
            updated_at=T0 - timedelta(days=50),
            status_changed_at=T0 - timedelta(days=50),
        )
        await self.integrations.add(integration)
        token_field = TOKEN_FIELD.get(channel, "signing_secret")
        for name, value in {token_field: token, **secrets}.items():
            await self.credentials.put(self.ref(integration, name), Secret(value))
        return integration

    @staticmethod
    def ref(integration: Integration, name: str) -> CredentialRef:
        return CredentialRef(tenant_id=ACME, integration_id=integration.id, name=name)

    async def secret(self, integration: Integration, name: str) -> str:
        return (await self.credentials.get(self.ref(integration, name))).reveal()

    async def stored(self, integration: Integration) -> Integration:
        return await self.integrations.get(ACME, integration.id)

    async def emitted(self) -> list[EventRecord]:
        page = await self.events.list(ACME, limit=100)
        return sorted(page.items, key=lambda e: e.id)

    async def types(self) -> list[EventType]:
        return [e.type for e in await self.emitted()]

    async def run(self) -> RotationReport:
        return await self.rotate.run_once()


def outcomes(report: RotationReport) -> list[RotationOutcome]:
    return [r.outcome for r in report.results]


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.INSTAGRAM, Channel.MERCADOPAGO])
async def test_a_token_expiring_within_the_margin_is_refreshed(channel: Channel) -> None:
    world = World(channel)
    world.setups[channel].refreshed = RefreshedToken(
        access_token=Secret(NEW),
        expires_at=T0 + timedelta(days=60),
        refresh_token=Secret("refresh-token-new"),
    )
    soon = await world.connect(channel, expires_in=timedelta(days=3), refresh_token="refresh-old")
    later = await world.connect(channel, expires_in=timedelta(days=11))

    report = await world.run()

    assert outcomes(report) == [RotationOutcome.REFRESHED]
    assert report.results[0].integration_id == soon.id
    assert not report.failed
    assert await world.secret(soon, TOKEN_FIELD[channel]) == NEW
    assert await world.secret(soon, "refresh_token") == "refresh-token-new"
    stored = await world.stored(soon)
    assert stored.token_expires_at == T0 + timedelta(days=60)
    assert stored.status is IntegrationStatus.ACTIVE
    assert await world.secret(later, TOKEN_FIELD[channel]) == OLD
    assert await world.types() == []  # nothing to tell the messaging service
    assert outcomes(await world.run()) == []  # out of the window now


async def test_a_refresh_that_stays_inside_the_margin_waits_for_the_cooldown() -> None:
    world = World(Channel.WHATSAPP)
    world.setups[Channel.WHATSAPP].refreshed = RefreshedToken(
        access_token=Secret(NEW), expires_at=T0 + timedelta(days=5)
    )
    await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=3))

    assert outcomes(await world.run()) == [RotationOutcome.REFRESHED]
    world.clock.advance(minutes=59)
    assert outcomes(await world.run()) == []
    world.clock.advance(minutes=1)
    assert outcomes(await world.run()) == [RotationOutcome.REFRESHED]
    assert world.setups[Channel.WHATSAPP].refreshes == 2


async def test_a_token_without_refresh_warns_once_per_token() -> None:
    world = World(Channel.WHATSAPP)  # refreshed=None: the platform has no refresh
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=3))

    (first,) = (await world.run()).results
    assert outcomes(await world.run()) == []  # looked at again after a probe interval
    world.clock.advance(hours=24)
    (second,) = (await world.run()).results

    assert first.outcome is second.outcome is RotationOutcome.NOT_REFRESHABLE
    assert first.events == (EventType.INTEGRATION_TOKEN_EXPIRING,)
    assert second.events == ()  # the messaging service heard of this token already

    (warning,) = await world.emitted()
    assert warning.type is EventType.INTEGRATION_TOKEN_EXPIRING
    assert warning.integration_id == integration.id
    assert warning.channel is Channel.WHATSAPP
    assert warning.status is DeliveryStatus.PENDING
    assert warning.data == {
        "integration": {
            "id": integration.id,
            "channel": "whatsapp",
            "status": "active",
            "token_expires_at": "2026-06-04T12:00:00.000Z",
        }
    }


async def test_failures_cool_down_then_exhaust_into_reauthorization() -> None:
    world = World(Channel.INSTAGRAM)
    setup = world.setups[Channel.INSTAGRAM]
    setup.failure = PlatformUnavailable("Instagram is down")
    integration = await world.connect(Channel.INSTAGRAM, expires_in=timedelta(days=3))

    seen: list[RotationOutcome] = []
    report = await world.run()
    assert report.failed
    assert report.results[0].error == "Instagram is down"
    seen += outcomes(report)
    # Cooldowns of 1 h, 2 h, 4 h (capped at max_cooldown): nothing happens in between.
    for wait in (timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)):
        world.clock.advance(wait - timedelta(seconds=1))
        assert outcomes(await world.run()) == []
        world.clock.advance(seconds=1)
        seen += outcomes(await world.run())

    assert seen == [RotationOutcome.FAILED] * 3 + [RotationOutcome.EXHAUSTED]
    assert setup.refreshes == 4
    stored = await world.stored(integration)
    assert stored.status is IntegrationStatus.REAUTHORIZATION_REQUIRED
    assert stored.status_changed_at == world.clock.now()
    assert await world.types() == [
        EventType.INTEGRATION_TOKEN_EXPIRING,
        EventType.INTEGRATION_REAUTHORIZATION_REQUIRED,
    ]
    world.clock.advance(days=1)
    assert outcomes(await world.run()) == []  # waits for the tenant now
    assert setup.refreshes == 4


async def test_a_token_the_platform_rejects_needs_reauthorization_at_once() -> None:
    world = World(Channel.MESSENGER)
    integration = await world.connect(
        Channel.MESSENGER, expires_in=timedelta(days=2), token="revoked-token"
    )

    report = await world.run()

    assert outcomes(report) == [RotationOutcome.REJECTED]
    assert not report.failed
    stored = await world.stored(integration)
    assert stored.status is IntegrationStatus.REAUTHORIZATION_REQUIRED
    (event,) = await world.emitted()
    assert event.type is EventType.INTEGRATION_REAUTHORIZATION_REQUIRED
    assert event.data["integration"]["status"] == "reauthorization_required"


async def test_a_lapsed_token_that_cannot_be_refreshed_is_marked_expired() -> None:
    world = World(Channel.WHATSAPP)
    world.setups[Channel.WHATSAPP].failure = PlatformUnavailable()
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(hours=-1))

    assert outcomes(await world.run()) == [RotationOutcome.FAILED]

    stored = await world.stored(integration)
    assert stored.status is IntegrationStatus.EXPIRED
    assert stored.receives_events  # inbound messages keep flowing
    (event,) = await world.emitted()  # no "expiring" warning for a token already gone
    assert event.type is EventType.INTEGRATION_EXPIRED
    assert event.data["integration"]["status"] == "expired"


async def test_a_token_lapsing_during_a_cooldown_is_marked_expired_without_a_call() -> None:
    world = World(Channel.WHATSAPP)
    setup = world.setups[Channel.WHATSAPP]
    setup.failure = PlatformUnavailable()
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(minutes=30))
    assert outcomes(await world.run()) == [RotationOutcome.FAILED]  # next attempt in 1 h

    world.clock.advance(minutes=30)
    assert outcomes(await world.run()) == [RotationOutcome.EXPIRED]

    assert setup.refreshes == 1
    assert (await world.stored(integration)).status is IntegrationStatus.EXPIRED
    assert await world.types() == [
        EventType.INTEGRATION_TOKEN_EXPIRING,
        EventType.INTEGRATION_EXPIRED,
    ]


async def test_an_expired_integration_refreshed_later_recovers() -> None:
    world = World(Channel.MERCADOPAGO)
    setup = world.setups[Channel.MERCADOPAGO]
    setup.failure = PlatformUnavailable()
    integration = await world.connect(Channel.MERCADOPAGO, expires_in=timedelta(0))
    await world.run()
    setup.failure = None
    setup.refreshed = RefreshedToken(access_token=Secret(NEW), expires_at=T0 + timedelta(days=180))

    world.clock.advance(hours=1)
    assert outcomes(await world.run()) == [RotationOutcome.REFRESHED]

    stored = await world.stored(integration)
    assert stored.status is IntegrationStatus.ACTIVE
    assert stored.token_expires_at == T0 + timedelta(days=180)
    recovered = (await world.emitted())[-1]
    assert recovered.type is EventType.INTEGRATION_RECOVERED
    assert recovered.data["integration"]["token_expires_at"] == "2026-11-28T12:00:00.000Z"


async def test_a_token_refreshed_in_time_is_never_marked_expired() -> None:
    world = World(Channel.INSTAGRAM)
    world.setups[Channel.INSTAGRAM].refreshed = RefreshedToken(
        access_token=Secret(NEW), expires_at=T0 + timedelta(days=60)
    )
    integration = await world.connect(Channel.INSTAGRAM, expires_in=timedelta(seconds=-5))

    assert outcomes(await world.run()) == [RotationOutcome.REFRESHED]

    assert (await world.stored(integration)).status is IntegrationStatus.ACTIVE
    assert await world.types() == []


async def test_never_expiring_tokens_are_probed_on_the_slower_schedule() -> None:
    world = World(Channel.TELEGRAM)
    setup = world.setups[Channel.TELEGRAM]
    bot = await world.connect(Channel.TELEGRAM, expires_in=None)

    assert outcomes(await world.run()) == [RotationOutcome.PROBED]
    world.clock.advance(hours=23)
    assert outcomes(await world.run()) == []
    world.clock.advance(hours=1)
    assert outcomes(await world.run()) == [RotationOutcome.PROBED]
    assert setup.validations == 2
    assert setup.refreshes == 0

    await world.credentials.put(world.ref(bot, "bot_token"), Secret("revoked-by-botfather"))
    world.clock.advance(hours=24)
    assert outcomes(await world.run()) == [RotationOutcome.REVOKED]

    assert (await world.stored(bot)).status is IntegrationStatus.REAUTHORIZATION_REQUIRED
    assert await world.types() == [EventType.INTEGRATION_REAUTHORIZATION_REQUIRED]


async def test_a_failing_probe_retries_sooner_and_never_gives_up_on_the_token() -> None:
    world = World(Channel.TELEGRAM)
    world.setups[Channel.TELEGRAM].failure = PlatformUnavailable()
    bot = await world.connect(Channel.TELEGRAM, expires_in=None)

    seen: list[RotationOutcome] = []
    for _ in range(POLICY.max_failures + 2):
        seen += outcomes(await world.run())
        world.clock.advance(POLICY.max_cooldown)

    assert seen == [RotationOutcome.PROBE_FAILED] * (POLICY.max_failures + 2)
    assert (await world.stored(bot)).status is IntegrationStatus.ACTIVE
    assert await world.types() == []


async def test_channels_without_a_setup_are_not_probed_and_disabled_ones_are_left_alone() -> None:
    world = World(Channel.WHATSAPP)
    await world.connect(Channel.WEBCHAT, expires_in=None)
    disabled = await world.connect(
        Channel.WHATSAPP, expires_in=timedelta(hours=-1), status=IntegrationStatus.DISABLED
    )

    assert outcomes(await world.run()) == []
    assert (await world.stored(disabled)).status is IntegrationStatus.DISABLED


async def test_a_pass_goes_through_every_batch() -> None:
    world = World(Channel.TELEGRAM, policy=attrs.evolve(POLICY, batch_size=2))
    bots = [await world.connect(Channel.TELEGRAM, expires_in=None) for _ in range(5)]

    report = await world.run()

    assert sorted(r.integration_id for r in report.results) == sorted(b.id for b in bots)
    assert report.counts == {RotationOutcome.PROBED: 5}


class PausingSetup(FakeChannelSetup):
    """A setup whose refresh yields to the event loop first, as a real HTTP call would."""

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        await asyncio.sleep(0)
        return await super().refresh_token(integration=integration, credentials=credentials)


async def test_two_rotators_at_once_refresh_a_token_once() -> None:
    world = World()
    setup = PausingSetup(
        channel=Channel.WHATSAPP,
        valid_tokens=(OLD,),
        refreshed=RefreshedToken(access_token=Secret(NEW), expires_at=T0 + timedelta(days=60)),
    )
    world.setups[Channel.WHATSAPP] = setup
    await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=1))
    other = RotateTokens(
        integrations=world.integrations,
        credentials=world.credentials,
        events=world.events,
        setups=world.setups,
        clock=world.clock,
        policy=POLICY,
    )

    first, second = await asyncio.gather(world.rotate.run_once(), other.run_once())

    assert sorted(len(r.results) for r in (first, second)) == [0, 1]
    assert setup.refreshes == 1


async def test_our_own_storage_failing_ends_the_pass_and_the_lease_brings_it_back() -> None:
    world = World(Channel.WHATSAPP)
    world.setups[Channel.WHATSAPP].refreshed = RefreshedToken(
        access_token=Secret(NEW), expires_at=T0 + timedelta(days=60)
    )
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=1))
    world.credentials.available = False

    with pytest.raises(CredentialsUnavailable):
        await world.run()

    world.credentials.available = True
    assert outcomes(await world.run()) == []  # still leased to the crashed pass
    world.clock.advance(POLICY.lease)
    assert outcomes(await world.run()) == [RotationOutcome.REFRESHED]
    assert await world.secret(integration, "access_token") == NEW


async def test_an_integration_deleted_during_its_refresh_is_reported_unsaved() -> None:
    world = World()

    class DisconnectingSetup(FakeChannelSetup):
        """The tenant disconnects while the platform call is in flight."""

        async def refresh_token(
            self, *, integration: Integration, credentials: Mapping[str, Secret]
        ) -> RefreshedToken | None:
            await world.integrations.delete(ACME, integration.id)
            return None

    world.setups[Channel.WHATSAPP] = DisconnectingSetup(channel=Channel.WHATSAPP)
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=1))

    (result,) = (await world.run()).results

    assert result.integration_id == integration.id
    assert not result.saved
    with pytest.raises(NotFound):
        await world.stored(integration)


def test_the_cooldown_doubles_up_to_its_cap() -> None:
    waits = [POLICY.cooldown_after(n) for n in (1, 2, 3, 4, 100)]

    assert waits == [timedelta(hours=h) for h in (1, 2, 4, 4, 4)]


def test_a_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        RotationPolicy(max_failures=0)
    with pytest.raises(ValueError, match="positive"):
        RotationPolicy(cooldown=timedelta(0))


def manual_refresh(world: World) -> RefreshIntegrationToken:
    return RefreshIntegrationToken(
        integrations=world.integrations,
        credentials=world.credentials,
        events=world.events,
        setups=world.setups,
        clock=world.clock,
    )


async def test_a_manual_refresh_waits_for_a_rotation_in_progress_and_vice_versa() -> None:
    world = World()
    setup = PausingSetup(
        channel=Channel.MERCADOPAGO,
        valid_tokens=(OLD, NEW),
        refreshed=RefreshedToken(access_token=Secret(NEW), expires_at=T0 + timedelta(days=180)),
    )
    world.setups[Channel.MERCADOPAGO] = setup
    integration = await world.connect(Channel.MERCADOPAGO, expires_in=timedelta(days=1))

    rotation = asyncio.create_task(world.rotate.run_once())
    await asyncio.sleep(0)  # the rotator has claimed and is in the platform call
    with pytest.raises(Conflict, match="being refreshed already"):
        await manual_refresh(world)(ACME, integration.id)
    assert outcomes(await rotation) == [RotationOutcome.REFRESHED]
    assert setup.refreshes == 1

    setup.refreshed = RefreshedToken(access_token=Secret(OLD), expires_at=T0 + timedelta(days=9))
    manual = asyncio.create_task(manual_refresh(world)(ACME, integration.id))
    await asyncio.sleep(0)
    world.clock.advance(POLICY.cooldown)  # the rotator would be due again: the lease stops it
    assert outcomes(await world.run()) == []
    assert (await manual).integration.token_expires_at == T0 + timedelta(days=9)
    assert setup.refreshes == 2


async def test_a_manual_refresh_frees_the_lease_and_starts_the_count_again() -> None:
    world = World(Channel.WHATSAPP, policy=attrs.evolve(POLICY, max_failures=2))
    setup = world.setups[Channel.WHATSAPP]
    setup.failure = PlatformUnavailable()
    integration = await world.connect(Channel.WHATSAPP, expires_in=timedelta(days=1))
    refresh = manual_refresh(world)

    with pytest.raises(PlatformUnavailable):
        await refresh(ACME, integration.id)
    assert outcomes(await world.run()) == [RotationOutcome.FAILED]  # the lease was freed
    setup.failure = None
    setup.refreshed = RefreshedToken(access_token=Secret(NEW), expires_at=T0 + timedelta(days=3))
    await refresh(ACME, integration.id)
    # A new token, a new count: one failure now is not the second in a row.
    setup.failure = PlatformUnavailable()
    world.clock.advance(POLICY.cooldown)
    assert outcomes(await world.run()) == [RotationOutcome.FAILED]
    assert (await world.stored(integration)).status is IntegrationStatus.ACTIVE
