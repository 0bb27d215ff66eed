"""The routing cache saves queries, expires, and never hides a change made through it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import StorageUnavailable
from integration_core.ids import TenantId
from integration_core.routing_cache import CachingIntegrationStore
from integration_core.testing import FrozenClock, InMemoryIntegrationStore

AT = datetime(2026, 1, 1, tzinfo=UTC)
T1 = TenantId("t1")


class CountingStore(InMemoryIntegrationStore):
    """Count the lookups that reach the real store; *slow* makes each one take a while."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.slow = False

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        self.lookups += 1
        if self.slow:
            await asyncio.sleep(0.01)
        return await super().find_by_external_id(channel, external_id)

    async def find(self, integration_id: str) -> Integration | None:
        self.lookups += 1
        return await super().find(integration_id)


def _integration() -> Integration:
    return Integration(
        id="int_1",
        tenant_id=T1,
        channel=Channel.WHATSAPP,
        status=IntegrationStatus.ACTIVE,
        external_id="111",
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )


def _cache() -> tuple[CachingIntegrationStore, CountingStore, FrozenClock]:
    clock = FrozenClock(AT)
    store = CountingStore()
    return CachingIntegrationStore(store=store, clock=clock), store, clock


async def test_repeated_lookups_hit_the_store_once_until_the_ttl() -> None:
    cache, store, clock = _cache()
    await store.add(_integration())
    for _ in range(5):
        assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()
        assert await cache.find("int_1") == _integration()
    assert store.lookups == 2
    clock.advance(seconds=5)
    await cache.find_by_external_id(Channel.WHATSAPP, "111")
    assert store.lookups == 3


async def test_concurrent_misses_share_one_lookup_and_its_failure() -> None:
    cache, store, clock = _cache()
    await store.add(_integration())
    store.slow = True
    found = await asyncio.gather(
        *(cache.find_by_external_id(Channel.WHATSAPP, "111") for _ in range(20))
    )
    assert found == [_integration()] * 20
    assert store.lookups == 1, "a burst that finds the entry expired sends one query"

    clock.advance(seconds=5)
    store.available = False
    results = await asyncio.gather(
        *(cache.find_by_external_id(Channel.WHATSAPP, "111") for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StorageUnavailable) for r in results)
    store.available = True
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()


async def test_a_miss_is_remembered_only_briefly() -> None:
    cache, store, clock = _cache()
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    await store.add(_integration())  # another replica connects the account
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    clock.advance(seconds=1)
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()


async def test_changes_made_through_the_cache_apply_at_once() -> None:
    cache, _, _ = _cache()
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    await cache.add(_integration())
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()
    disabled = attrs.evolve(_integration(), status=IntegrationStatus.DISABLED)
    await cache.update(disabled)
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == disabled
    await cache.delete(T1, "int_1")
    assert await cache.find("int_1") is None


async def test_other_methods_go_straight_to_the_store() -> None:
    cache, _, _ = _cache()
    await cache.add(_integration())
    assert await cache.get(T1, "int_1") == _integration()
    assert await cache.list(T1) == [_integration()]
    assert await cache.count_by_channel() == {Channel.WHATSAPP: 1}
    assert await cache.expiring_before(AT + timedelta(days=1)) == []
