"""The IntegrationStore contract, run over every implementation (see conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import IntegrationExists, NotFound, StorageUnavailable
from integration_core.ids import TenantId, new_id
from integration_core.ports import IntegrationStore
from integration_core.testing.strategies import integrations

T0 = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
ALICE = TenantId("alice")
BOB = TenantId("bob")


def make_integration(**overrides: Any) -> Integration:
    """Return an active WhatsApp integration of Alice, with *overrides*."""
    values: dict[str, Any] = {
        "id": new_id("int"),
        "tenant_id": ALICE,
        "channel": Channel.WHATSAPP,
        "status": IntegrationStatus.ACTIVE,
        "external_id": f"phone-{uuid.uuid4().hex[:8]}",
        "config": {"business_account_id": "ba-1", "display_name": "Ünïcode ☕"},
        "webhook_url": "https://example.com/hook",
        "token_expires_at": T0 + timedelta(days=30),
        "created_at": T0,
        "updated_at": T0,
        "status_changed_at": T0,
    }
    values.update(overrides)
    return Integration(**values)


async def test_add_then_get_and_find_return_it(integration_store: IntegrationStore) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    assert await integration_store.get(ALICE, integration.id) == integration
    assert await integration_store.find(integration.id) == integration


async def test_datetimes_come_back_aware_utc(integration_store: IntegrationStore) -> None:
    integration = make_integration(created_at=datetime(2026, 5, 1, 14, 30, 0, 456000, tzinfo=UTC))
    await integration_store.add(integration)

    stored = await integration_store.get(ALICE, integration.id)

    assert stored.created_at == integration.created_at
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.microsecond == 456000


async def test_unknown_or_another_tenants_integration_is_not_found(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    with pytest.raises(NotFound):
        await integration_store.get(BOB, integration.id)
    with pytest.raises(NotFound):
        await integration_store.get(ALICE, "int_unknown")
    assert await integration_store.find("int_unknown") is None


async def test_the_same_external_account_cannot_be_connected_twice(
    integration_store: IntegrationStore,
) -> None:
    first = make_integration()
    await integration_store.add(first)

    with pytest.raises(IntegrationExists):
        await integration_store.add(make_integration(tenant_id=BOB, external_id=first.external_id))
    with pytest.raises(IntegrationExists):
        await integration_store.add(make_integration(id=first.id))
    # The same account id on another channel is another account.
    await integration_store.add(
        make_integration(channel=Channel.TELEGRAM, external_id=first.external_id)
    )
    assert len(await integration_store.list(ALICE)) == 2


async def test_find_by_external_id_matches_channel_and_account(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration(tenant_id=BOB)
    await integration_store.add(integration)

    found = await integration_store.find_by_external_id(Channel.WHATSAPP, integration.external_id)

    assert found == integration
    assert (
        await integration_store.find_by_external_id(Channel.MESSENGER, integration.external_id)
        is None
    )
    assert await integration_store.find_by_external_id(Channel.WHATSAPP, "nobody") is None


async def test_list_returns_the_tenants_integrations_oldest_first(
    integration_store: IntegrationStore,
) -> None:
    newest = make_integration(created_at=T0 + timedelta(hours=2))
    oldest = make_integration(created_at=T0)
    telegram = make_integration(channel=Channel.TELEGRAM, created_at=T0 + timedelta(hours=1))
    # Same creation time as oldest: the id breaks the tie.
    tie = make_integration(id="int_zzzzzzzz", created_at=T0)
    for integration in (newest, oldest, telegram, tie, make_integration(tenant_id=BOB)):
        await integration_store.add(integration)

    assert list(await integration_store.list(ALICE)) == [oldest, tie, telegram, newest]
    assert list(await integration_store.list(ALICE, channel=Channel.TELEGRAM)) == [telegram]
    assert list(await integration_store.list(TenantId("carol"))) == []


async def test_update_replaces_the_integration(integration_store: IntegrationStore) -> None:
    integration = make_integration()
    await integration_store.add(integration)
    later = T0 + timedelta(minutes=5)
    changed = attrs.evolve(
        integration.with_status(IntegrationStatus.EXPIRED, at=later),
        config={"new": "config"},
        token_expires_at=None,
        webhook_url=None,
    )

    await integration_store.update(changed)

    assert await integration_store.get(ALICE, integration.id) == changed


async def test_update_of_an_unknown_or_another_tenants_integration_is_not_found(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    with pytest.raises(NotFound):
        await integration_store.update(attrs.evolve(integration, tenant_id=BOB))
    with pytest.raises(NotFound):
        await integration_store.update(make_integration())
    assert await integration_store.get(ALICE, integration.id) == integration


async def test_delete_removes_only_the_tenants_integration(
    integration_store: IntegrationStore,
) -> None:
    integration = make_integration()
    await integration_store.add(integration)

    with pytest.raises(NotFound):
        await integration_store.delete(BOB, integration.id)
    assert await integration_store.find(integration.id) == integration

    await integration_store.delete(ALICE, integration.id)

    assert await integration_store.find(integration.id) is None
    with pytest.raises(NotFound):
        await integration_store.delete(ALICE, integration.id)
    # Its external account is free again.
    await integration_store.add(make_integration(external_id=integration.external_id))


async def test_expiring_before_returns_any_tenants_tokens_soonest_first(
    integration_store: IntegrationStore,
) -> None:
    moment = T0 + timedelta(days=10)
    soon = make_integration(tenant_id=BOB, token_expires_at=T0 + timedelta(days=2))
    sooner = make_integration(token_expires_at=T0 + timedelta(days=1))
    expired = make_integration(token_expires_at=T0 - timedelta(days=1))
    at_moment = make_integration(token_expires_at=moment)
    later = make_integration(token_expires_at=moment + timedelta(seconds=1))
    never = make_integration(token_expires_at=None)
    for integration in (soon, sooner, expired, at_moment, later, never):
        await integration_store.add(integration)

    assert list(await integration_store.expiring_before(moment)) == [expired, sooner, soon]


async def test_count_by_channel_counts_active_integrations(
    integration_store: IntegrationStore,
) -> None:
    assert dict(await integration_store.count_by_channel()) == {}
    for integration in (
        make_integration(),
        make_integration(tenant_id=BOB),
        make_integration(channel=Channel.TELEGRAM),
        make_integration(channel=Channel.TELEGRAM, status=IntegrationStatus.DISABLED),
        make_integration(channel=Channel.WEBCHAT, status=IntegrationStatus.PENDING),
        make_integration(channel=Channel.TAWKTO, status=IntegrationStatus.EXPIRED),
    ):
        await integration_store.add(integration)

    assert dict(await integration_store.count_by_channel()) == {
        Channel.WHATSAPP: 2,
        Channel.TELEGRAM: 1,
    }


async def test_find_by_config_returns_every_tenants_integration_sharing_a_value(
    integration_store: IntegrationStore,
) -> None:
    shared = {"business_account_id": "waba-shared"}
    first = make_integration(config=shared)
    second = make_integration(tenant_id=BOB, config={**shared, "label": "Bob's line"})
    page = make_integration(
        channel=Channel.INSTAGRAM, config={"page_id": "waba-shared", "login": "facebook"}
    )
    other = make_integration(config={"business_account_id": "waba-other"})
    for integration in (first, second, page, other):
        await integration_store.add(integration)

    found = await integration_store.find_by_config("business_account_id", "waba-shared")

    assert [i.id for i in found] == sorted([first.id, second.id])
    assert found[0] in (first, second)
    by_page = await integration_store.find_by_config("page_id", "waba-shared")
    assert by_page == [page]
    assert await integration_store.find_by_config("business_account_id", "waba-none") == []
    assert await integration_store.find_by_config("missing_key", "waba-shared") == []


async def test_an_unreachable_database_raises_storage_unavailable(
    unreachable_integration_store: IntegrationStore,
) -> None:
    store = unreachable_integration_store
    with pytest.raises(StorageUnavailable):
        await store.add(make_integration())
    with pytest.raises(StorageUnavailable):
        await store.get(ALICE, "int_x")
    with pytest.raises(StorageUnavailable):
        await store.list(ALICE)
    with pytest.raises(StorageUnavailable):
        await store.count_by_channel()
    with pytest.raises(StorageUnavailable):
        await store.find_by_config("page_id", "1")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=integrations())
async def test_any_integration_round_trips(
    integration_store: IntegrationStore, drawn: Integration
) -> None:
    # Examples share the store: give each a fresh id and account. PostgreSQL text cannot hold
    # U+0000, so (like the HTTP layer) keep it out of the configuration.
    integration = attrs.evolve(
        drawn,
        id=new_id("int"),
        external_id=f"{drawn.external_id}-{uuid.uuid4().hex}",
        config={k.replace("\0", ""): v.replace("\0", "") for k, v in drawn.config.items()},
    )
    await integration_store.add(integration)

    assert await integration_store.get(integration.tenant_id, integration.id) == integration
