"""The token-rotation claim rules of the IntegrationStore contract, on every backend.

A claim must take exactly what :meth:`RotationCriteria.selects` says (checked over drawn sets of
integrations), and a claim of one integration must be race-free across replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.ports import IntegrationStore
from integration_core.rotation import RotationCriteria, RotationState

from .rotation_builders import (
    LEASE,
    MARGIN,
    NOW,
    integration_store_replica,
    make_integration,
)

__all__ = ["integration_store_replica"]  # a fixture, used by name


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
