"""The token-rotation part of the IntegrationStore contract: claims, leases, release.

Run over memory, SQLite and PostgreSQL (see conftest.py); the concurrency test runs two stores
on separate engines, as two replicas would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters_db import SqlIntegrationStore, create_engine
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import StorageUnavailable
from integration_core.ids import TenantId, new_id
from integration_core.ports import IntegrationStore
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState

from .conftest import Backend

NOW = datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
MARGIN = timedelta(days=10)
LEASE = timedelta(minutes=5)
ALICE = TenantId("alice")


def make_integration(**overrides: Any) -> Integration:
    values: dict[str, Any] = {
        "id": new_id("int"),
        "tenant_id": ALICE,
        "channel": Channel.WHATSAPP,
        "status": IntegrationStatus.ACTIVE,
        "external_id": f"acct-{uuid.uuid4().hex[:10]}",
        "token_expires_at": NOW + timedelta(days=3),
        "created_at": NOW - timedelta(days=50),
        "updated_at": NOW - timedelta(days=50),
        "status_changed_at": NOW - timedelta(days=50),
    }
    values.update(overrides)
    return Integration(**values)


def criteria(
    owner: str = "rot-a",
    *,
    now: datetime = NOW,
    limit: int = 100,
    probe: Collection[Channel] = (Channel.TELEGRAM, Channel.WHATSAPP),
) -> RotationCriteria:
    return RotationCriteria(
        owner=owner,
        now=now,
        refresh_before=now + MARGIN,
        probe_channels=frozenset(probe),
        lease=LEASE,
        limit=limit,
    )


async def add_all(store: IntegrationStore, *items: Integration) -> None:
    for item in items:
        await store.add(item)


async def claimed_ids(store: IntegrationStore, wanted: RotationCriteria) -> list[str]:
    return [c.integration.id for c in await store.claim_for_rotation(wanted)]


async def cool_down(store: IntegrationStore, integration: Integration, until: datetime) -> None:
    """Give *integration* a cooldown running until *until*, through a claim and release."""
    for claim in await store.claim_for_rotation(criteria("setup")):
        state = claim.state
        if claim.integration.id == integration.id:
            state = RotationState(
                failures=1, failed_expiry=integration.token_expires_at, next_attempt_at=until
            )
        assert await store.release_rotation(claim, integration=claim.integration, state=state)


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


@pytest.fixture
async def integration_store_replica(
    backend: Backend, integration_store: IntegrationStore
) -> AsyncIterator[IntegrationStore]:
    """Yield a second store on the same data over its own engine (memory: the same store)."""
    if backend.engine is None:
        yield integration_store
        return
    engine = create_engine(backend.engine.url.render_as_string(hide_password=False))
    try:
        yield SqlIntegrationStore(engine=engine)
    finally:
        await engine.dispose()


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


# One drawn integration: status, token expiry (hours from NOW; None: never), channel, and the
# cooldown its rotation state ends with (hours from NOW; None: none).
_Drawn = tuple[IntegrationStatus, int | None, Channel, int | None]
# The edges matter: now, the margin (240 h), a cooldown just over or just ending.
_EXPIRY = st.sampled_from([None, -48, -1, 0, 1, 72, 239, 240, 241, 400])
_COOLDOWN = st.sampled_from([None, -1, 0, 1])
_DRAWN = st.tuples(
    st.sampled_from(IntegrationStatus),
    _EXPIRY,
    st.sampled_from([Channel.WHATSAPP, Channel.TELEGRAM, Channel.WEBCHAT]),
    _COOLDOWN,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=st.lists(_DRAWN, min_size=3, max_size=10))
async def test_a_claim_takes_exactly_what_the_criteria_select(
    integration_store: IntegrationStore, drawn: list[_Drawn]
) -> None:
    # Examples share the store; each one's integrations are told apart by an owner of its own.
    run = uuid.uuid4().hex
    made: list[tuple[Integration, RotationState]] = []
    for status, expiry, channel, cooldown in drawn:
        integration = make_integration(
            status=status,
            channel=channel,
            token_expires_at=None if expiry is None else NOW + timedelta(hours=expiry),
        )
        await integration_store.add(integration)
        state = RotationState(
            failures=1,
            failed_expiry=integration.token_expires_at,
            next_attempt_at=None if cooldown is None else NOW + timedelta(hours=cooldown),
        )
        made.append((integration, state))
    # Give each state through a claim of everything claimable, long before NOW.
    setup = RotationCriteria(
        owner=f"setup-{run}",
        now=NOW - timedelta(days=30),
        refresh_before=NOW + timedelta(days=3650),
        probe_channels=frozenset(Channel),
        lease=timedelta(seconds=1),
        limit=10_000,
    )
    states = {i.id: s for i, s in made}
    for claim in await integration_store.claim_for_rotation(setup):
        if (state := states.get(claim.integration.id)) is not None:
            await integration_store.release_rotation(
                claim, integration=claim.integration, state=state
            )
    real = RotationCriteria(
        owner=f"rot-{run}",
        now=NOW,
        refresh_before=NOW + MARGIN,
        probe_channels=frozenset({Channel.WHATSAPP, Channel.TELEGRAM}),
        lease=LEASE,
        limit=10_000,
    )
    expected = {i.id for i, state in made if real.selects(i, state)}

    claimed = {c.integration.id for c in await integration_store.claim_for_rotation(real)}

    assert claimed & set(states) == expected


async def test_claim_one_leases_an_integration_whether_due_or_not(
    integration_store: IntegrationStore,
) -> None:
    far = make_integration(token_expires_at=NOW + timedelta(days=300))
    await integration_store.add(far)

    claim = await integration_store.claim_one_for_rotation(
        far.id, owner="ref-a", now=NOW, lease=LEASE
    )

    assert claim is not None
    assert (claim.integration, claim.owner, claim.locked_until) == (far, "ref-a", NOW + LEASE)
    assert claim.state == RotationState()
    again = await integration_store.claim_one_for_rotation(
        far.id, owner="ref-b", now=NOW + LEASE - timedelta(milliseconds=1), lease=LEASE
    )
    assert again is None
    assert await integration_store.release_rotation(claim, integration=far, state=RotationState())
    assert (
        await integration_store.claim_one_for_rotation(far.id, owner="ref-b", now=NOW, lease=LEASE)
        is not None
    )
    assert (
        await integration_store.claim_one_for_rotation(
            "int_absent", owner="x", now=NOW, lease=LEASE
        )
        is None
    )


async def test_claim_one_is_race_free(
    integration_store: IntegrationStore, integration_store_replica: IntegrationStore
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    claims = await asyncio.gather(
        *(
            store.claim_one_for_rotation(integration.id, owner=f"ref-{n}", now=NOW, lease=LEASE)
            for n, store in enumerate([integration_store, integration_store_replica] * 3)
        )
    )

    assert len([c for c in claims if c is not None]) == 1
