"""The token-rotation part of the IntegrationStore contract: claims, leases, release.

Run over memory, SQLite and PostgreSQL (see conftest.py); the concurrency test runs two stores
on separate engines, as two replicas would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from integration_core.channels import Channel, IntegrationStatus
from integration_core.errors import StorageUnavailable
from integration_core.ports import IntegrationStore
from integration_core.rotation import RotationClaim, RotationState

from .rotation_builders import (
    ALICE,
    LEASE,
    MARGIN,
    NOW,
    add_all,
    claimed_ids,
    cool_down,
    criteria,
    integration_store_replica,
    make_integration,
)

__all__ = ["integration_store_replica"]  # a fixture, used by name


async def test_claims_exactly_the_integrations_due(integration_store: IntegrationStore) -> None:
    expiring = make_integration()
    expired = make_integration(
        status=IntegrationStatus.EXPIRED, token_expires_at=NOW - timedelta(hours=1)
    )
    never = make_integration(channel=Channel.TELEGRAM, token_expires_at=None)
    lapsed_cooling = make_integration(token_expires_at=NOW - timedelta(minutes=1))
    later = make_integration(token_expires_at=NOW + MARGIN + timedelta(seconds=1))
    disabled = make_integration(status=IntegrationStatus.DISABLED)
    reauth = make_integration(status=IntegrationStatus.REAUTHORIZATION_REQUIRED)
    no_probe = make_integration(channel=Channel.WEBCHAT, token_expires_at=None)
    cooling = make_integration(token_expires_at=NOW + timedelta(days=1))
    # Already marked expired and cooling down: nothing to do until the cooldown ends.
    expired_cooling = make_integration(
        status=IntegrationStatus.EXPIRED, token_expires_at=NOW - timedelta(hours=3)
    )
    await add_all(
        integration_store,
        expiring, expired, never, lapsed_cooling, later, disabled, reauth, no_probe, cooling,
        expired_cooling,
    )  # fmt: skip
    for item in (lapsed_cooling, cooling, expired_cooling):
        await cool_down(integration_store, item, NOW + timedelta(hours=1))

    claims = await integration_store.claim_for_rotation(criteria())

    # Soonest expiry first, never-expiring tokens last.
    assert [c.integration.id for c in claims] == [
        expired.id,
        lapsed_cooling.id,
        expiring.id,
        never.id,
    ]
    assert {c.owner for c in claims} == {"rot-a"}
    assert {c.locked_until for c in claims} == {NOW + LEASE}
    by_id = {c.integration.id: c for c in claims}
    assert by_id[expiring.id].integration == expiring
    assert by_id[expiring.id].state == RotationState()
    assert by_id[lapsed_cooling.id].state == RotationState(
        failures=1,
        failed_expiry=lapsed_cooling.token_expires_at,
        next_attempt_at=NOW + timedelta(hours=1),
    )


async def test_a_leased_integration_is_not_claimed_again_until_the_lease_ends(
    integration_store: IntegrationStore,
) -> None:
    due = make_integration()
    await integration_store.add(due)

    assert await claimed_ids(integration_store, criteria("rot-a")) == [due.id]
    assert await claimed_ids(integration_store, criteria("rot-b")) == []
    just_before = NOW + LEASE - timedelta(microseconds=1000)
    assert await claimed_ids(integration_store, criteria("rot-b", now=just_before)) == []
    assert await claimed_ids(integration_store, criteria("rot-b", now=NOW + LEASE)) == [due.id]


async def test_limit_takes_the_soonest_and_leaves_the_rest(
    integration_store: IntegrationStore,
) -> None:
    items = [make_integration(token_expires_at=NOW + timedelta(days=d)) for d in (5, 1, 3)]
    await add_all(integration_store, *items)

    first = await claimed_ids(integration_store, criteria("rot-a", limit=2))
    rest = await claimed_ids(integration_store, criteria("rot-b", limit=2))

    assert first == [items[1].id, items[2].id]
    assert rest == [items[0].id]
    assert await claimed_ids(integration_store, criteria("rot-c", limit=0)) == []


async def test_release_saves_the_result_and_frees_the_lease(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(token_expires_at=NOW - timedelta(hours=2))
    await integration_store.add(integration)
    (claim,) = await integration_store.claim_for_rotation(criteria())
    later = NOW + timedelta(seconds=3)
    result = attrs.evolve(
        integration.with_status(IntegrationStatus.EXPIRED, at=later),
        token_expires_at=NOW + timedelta(days=5),
    )
    state = RotationState(failures=2, failed_expiry=NOW, next_attempt_at=NOW + timedelta(days=1))

    assert await integration_store.release_rotation(claim, integration=result, state=state)

    assert await integration_store.get(ALICE, integration.id) == result
    # Free again, and the state comes back with the next claim (expired, in the window).
    wanted = criteria("rot-b", now=NOW + timedelta(days=1))
    (again,) = await integration_store.claim_for_rotation(wanted)
    assert again.state == state
    assert again.integration == result


async def test_a_stale_owner_cannot_release(integration_store: IntegrationStore) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    (stale,) = await integration_store.claim_for_rotation(criteria("rot-a"))
    (current,) = await integration_store.claim_for_rotation(criteria("rot-b", now=NOW + LEASE))
    changed = attrs.evolve(integration, token_expires_at=NOW + timedelta(days=60))

    assert not await integration_store.release_rotation(
        stale, integration=changed, state=RotationState(failures=3)
    )

    assert await integration_store.get(ALICE, integration.id) == integration
    assert await integration_store.release_rotation(
        current, integration=integration, state=RotationState()
    )


async def test_release_keeps_a_status_changed_meanwhile(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(token_expires_at=NOW - timedelta(hours=1))
    await integration_store.add(integration)
    (claim,) = await integration_store.claim_for_rotation(criteria())
    disabled = integration.with_status(IntegrationStatus.DISABLED, at=NOW)
    await integration_store.update(disabled)
    result = integration.with_status(IntegrationStatus.EXPIRED, at=NOW + timedelta(seconds=1))
    result = attrs.evolve(result, token_expires_at=NOW + timedelta(days=60))

    assert await integration_store.release_rotation(
        claim, integration=result, state=RotationState()
    )

    stored = await integration_store.get(ALICE, integration.id)
    assert stored.status is IntegrationStatus.DISABLED
    assert stored.status_changed_at == disabled.status_changed_at
    assert stored.token_expires_at == NOW + timedelta(days=60)


async def test_update_leaves_the_rotation_state_alone(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    await cool_down(integration_store, integration, NOW + timedelta(hours=1))

    await integration_store.update(attrs.evolve(integration, config={"label": "x"}))

    assert await claimed_ids(integration_store, criteria()) == []
    assert await claimed_ids(integration_store, criteria(now=NOW + timedelta(hours=1))) == [
        integration.id
    ]


async def test_a_deleted_integration_cannot_be_released(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    (claim,) = await integration_store.claim_for_rotation(criteria())
    await integration_store.delete(ALICE, integration.id)

    assert not await integration_store.release_rotation(
        claim, integration=integration, state=RotationState()
    )


async def test_concurrent_rotators_never_share_an_integration(
    integration_store: IntegrationStore, integration_store_replica: IntegrationStore
) -> None:
    items = [make_integration(token_expires_at=NOW + timedelta(hours=h)) for h in range(12)]
    await add_all(integration_store, *items)

    async def rotator(store: IntegrationStore, name: str) -> list[RotationClaim]:
        claims: list[RotationClaim] = []
        while batch := await store.claim_for_rotation(criteria(name, limit=2)):
            claims.extend(batch)
            await asyncio.sleep(0)
        return claims

    runs = await asyncio.gather(
        rotator(integration_store, "rot-a"),
        rotator(integration_store_replica, "rot-b"),
        rotator(integration_store, "rot-c"),
        rotator(integration_store_replica, "rot-d"),
    )

    ids = [c.integration.id for run in runs for c in run]
    assert sorted(ids) == sorted(i.id for i in items)  # each exactly once


async def test_an_unreachable_database_raises_storage_unavailable(
    unreachable_integration_store: IntegrationStore,
) -> None:
    store = unreachable_integration_store
    with pytest.raises(StorageUnavailable):
        await store.claim_for_rotation(criteria())
    claim = RotationClaim(
        integration=make_integration(), state=RotationState(), owner="x", locked_until=NOW
    )
    with pytest.raises(StorageUnavailable):
        await store.release_rotation(claim, integration=claim.integration, state=RotationState())
