"""Token rotation's leases: one refresh per integration at a time, manual ones included."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

import attrs
import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import Secret
from integration_core.errors import (
    Conflict,
    CredentialsUnavailable,
    NotFound,
    PlatformUnavailable,
)
from integration_core.testing import FakeChannelSetup
from integration_core.use_cases.integrations import RefreshIntegrationToken
from integration_core.use_cases.token_rotation import RotateTokens, RotationOutcome

from .rotation_world import ACME, NEW, OLD, POLICY, T0, PausingSetup, World, outcomes


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
