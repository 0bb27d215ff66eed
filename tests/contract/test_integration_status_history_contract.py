"""The status-history part of the IntegrationStore contract: one entry per real status change.

Run over memory, SQLite and PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus, StatusChange
from integration_core.errors import IntegrationExists, NotFound, StorageUnavailable
from integration_core.ids import TenantId, new_id
from integration_core.ports import IntegrationStore
from integration_core.rotation import RotationClaim, RotationState

# Milliseconds and microseconds, so a store that rounds the times is caught.
T0 = datetime(2026, 4, 2, 8, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(hours=1, microseconds=1)
T2 = T0 + timedelta(days=1, milliseconds=7)
ALICE = TenantId("alice")
BOB = TenantId("bob")
LEASE = timedelta(minutes=5)

ACTIVE = IntegrationStatus.ACTIVE
DISABLED = IntegrationStatus.DISABLED
EXPIRED = IntegrationStatus.EXPIRED


def make_integration(**overrides: Any) -> Integration:
    """Return an active WhatsApp integration of Alice created at ``T0``, with *overrides*."""
    values: dict[str, Any] = {
        "id": new_id("int"),
        "tenant_id": ALICE,
        "channel": Channel.WHATSAPP,
        "status": ACTIVE,
        "external_id": f"phone-{uuid.uuid4().hex[:8]}",
        "token_expires_at": T0 + timedelta(days=30),
        "created_at": T0,
        "updated_at": T0,
        "status_changed_at": T0,
    }
    values.update(overrides)
    return Integration(**values)


def change(status: IntegrationStatus, at: datetime) -> StatusChange:
    return StatusChange(status=status, at=at)


async def claim(store: IntegrationStore, integration: Integration, owner: str) -> RotationClaim:
    found = await store.claim_one_for_rotation(integration.id, owner=owner, now=T0, lease=LEASE)
    assert found is not None
    return found


async def test_setup_starts_the_history_with_the_initial_status(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(status=IntegrationStatus.PENDING)
    await integration_store.add(integration)

    history = await integration_store.status_history(ALICE, integration.id)

    assert list(history) == [change(IntegrationStatus.PENDING, T0)]
    assert history[0].at.utcoffset() == timedelta(0)


async def test_disabling_and_enabling_add_one_entry_each(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    disabled = integration.with_status(DISABLED, at=T1)
    await integration_store.update(disabled)
    enabled = disabled.with_status(ACTIVE, at=T2)
    await integration_store.update(enabled)

    history = await integration_store.status_history(ALICE, integration.id)

    assert list(history) == [change(ACTIVE, T0), change(DISABLED, T1), change(ACTIVE, T2)]


async def test_an_update_that_keeps_the_status_adds_nothing(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    await integration_store.update(
        attrs.evolve(integration, config={"label": "Support"}, updated_at=T1)
    )

    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0)
    ]


async def test_a_failed_update_adds_nothing(integration_store: IntegrationStore) -> None:
    integration = make_integration()
    taken = make_integration()
    await integration_store.add(integration)
    await integration_store.add(taken)
    onto_taken = attrs.evolve(
        integration.with_status(DISABLED, at=T1), external_id=taken.external_id
    )

    with pytest.raises(IntegrationExists):
        await integration_store.update(onto_taken)
    with pytest.raises(NotFound):  # another tenant's: not replaced, not recorded
        await integration_store.update(
            attrs.evolve(integration.with_status(DISABLED, at=T1), tenant_id=BOB)
        )

    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0)
    ]


async def test_a_release_that_changes_the_status_adds_one_entry(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(token_expires_at=T0 - timedelta(minutes=1))
    await integration_store.add(integration)
    held = await claim(integration_store, integration, "rot-a")

    assert await integration_store.release_rotation(
        held, integration=integration.with_status(EXPIRED, at=T1), state=RotationState()
    )

    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0),
        change(EXPIRED, T1),
    ]


async def test_a_release_that_keeps_the_status_adds_nothing(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    held = await claim(integration_store, integration, "rot-a")
    refreshed = attrs.evolve(integration, token_expires_at=T2 + timedelta(days=60), updated_at=T1)

    assert await integration_store.release_rotation(
        held, integration=refreshed, state=RotationState()
    )

    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0)
    ]


async def test_a_release_without_the_lease_adds_nothing(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    held = await claim(integration_store, integration, "rot-a")
    assert await integration_store.release_rotation(
        held, integration=integration, state=RotationState()
    )

    assert not await integration_store.release_rotation(
        held, integration=integration.with_status(EXPIRED, at=T1), state=RotationState()
    )

    assert (await integration_store.get(ALICE, integration.id)).status is ACTIVE
    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0)
    ]


async def test_an_operators_change_during_a_rotation_is_kept_and_recorded_once(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(token_expires_at=T0 - timedelta(minutes=1))
    await integration_store.add(integration)
    held = await claim(integration_store, integration, "rot-a")
    await integration_store.update(integration.with_status(DISABLED, at=T1))

    assert await integration_store.release_rotation(
        held, integration=integration.with_status(EXPIRED, at=T2), state=RotationState()
    )

    stored = await integration_store.get(ALICE, integration.id)
    assert (stored.status, stored.status_changed_at) == (DISABLED, T1)
    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T0),
        change(DISABLED, T1),
    ]


async def test_another_tenants_or_an_unknown_history_is_not_found(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    with pytest.raises(NotFound):
        await integration_store.status_history(BOB, integration.id)
    with pytest.raises(NotFound):
        await integration_store.status_history(ALICE, "int_unknown")


async def test_deleting_an_integration_deletes_its_history(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    await integration_store.update(integration.with_status(DISABLED, at=T1))

    await integration_store.delete(ALICE, integration.id)

    with pytest.raises(NotFound):
        await integration_store.status_history(ALICE, integration.id)
    # The same id connected again starts afresh: nothing of the old history is left over.
    again = make_integration(id=integration.id, status_changed_at=T2)
    await integration_store.add(again)
    assert list(await integration_store.status_history(ALICE, integration.id)) == [
        change(ACTIVE, T2)
    ]


async def test_histories_are_kept_apart(integration_store: IntegrationStore) -> None:
    first = make_integration()
    second = make_integration(status=DISABLED, status_changed_at=T1)
    await integration_store.add(first)
    await integration_store.add(second)
    await integration_store.update(first.with_status(EXPIRED, at=T2))

    assert list(await integration_store.status_history(ALICE, first.id)) == [
        change(ACTIVE, T0),
        change(EXPIRED, T2),
    ]
    assert list(await integration_store.status_history(ALICE, second.id)) == [
        change(DISABLED, T1),
    ]


async def test_status_history_raises_storage_unavailable_when_down(
    unreachable_integration_store: IntegrationStore,
) -> None:
    with pytest.raises(StorageUnavailable):
        await unreachable_integration_store.status_history(ALICE, "int_x")
