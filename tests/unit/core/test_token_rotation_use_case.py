"""Token rotation over the in-memory fakes and a frozen clock: refresh, warn, expire, probe."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from integration_core.channels import Channel, IntegrationStatus, RefreshedToken
from integration_core.credentials import Secret
from integration_core.errors import PlatformUnavailable
from integration_core.events import DeliveryStatus, EventType
from integration_core.use_cases.onboarding import TOKEN_FIELD
from integration_core.use_cases.token_rotation import RotationOutcome, RotationPolicy

from .rotation_world import NEW, OLD, POLICY, T0, World, outcomes


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


def test_the_cooldown_doubles_up_to_its_cap() -> None:
    waits = [POLICY.cooldown_after(n) for n in (1, 2, 3, 4, 100)]

    assert waits == [timedelta(hours=h) for h in (1, 2, 4, 4, 4)]


def test_a_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        RotationPolicy(max_failures=0)
    with pytest.raises(ValueError, match="positive"):
        RotationPolicy(cooldown=timedelta(0))
