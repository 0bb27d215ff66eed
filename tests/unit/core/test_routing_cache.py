"""The routing cache saves queries, expires, and never hides a change the store reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import StorageUnavailable
from integration_core.ids import TenantId
from integration_core.routing_cache import CachingDirectory, notify_all
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


def _cache() -> tuple[CachingDirectory, CountingStore, FrozenClock]:
    clock = FrozenClock(AT)
    store = CountingStore()
    cache = CachingDirectory(directory=store, clock=clock)
    store.on_change = cache.forget  # as the composition root gives it
    return cache, store, clock


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
    store.on_change = None  # another replica connects the account: nobody tells this cache
    await store.add(_integration())
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    clock.advance(seconds=1)
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()


async def test_changes_the_store_reports_apply_at_once() -> None:
    cache, store, _ = _cache()
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    await store.add(_integration())
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == _integration()
    disabled = attrs.evolve(_integration(), status=IntegrationStatus.DISABLED)
    await store.update(disabled)
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") == disabled
    moved = await store.modify(T1, "int_1", lambda i: attrs.evolve(i, external_id="222"))
    assert await cache.find_by_external_id(Channel.WHATSAPP, "111") is None
    assert await cache.find("int_1") == moved
    await store.delete(T1, "int_1")
    assert await cache.find("int_1") is None


async def test_one_change_callback_tells_every_listener() -> None:
    heard: list[str] = []
    store = InMemoryIntegrationStore(on_change=notify_all(heard.append, heard.append))
    await store.add(_integration())
    await store.delete(T1, "int_1")
    assert heard == ["int_1", "int_1", "int_1", "int_1"]


async def test_lookups_by_config_are_never_cached() -> None:
    cache, store, _ = _cache()
    await store.add(attrs.evolve(_integration(), config={"business_account_id": "waba"}))
    assert [i.id for i in await cache.find_by_config("business_account_id", "waba")] == ["int_1"]
    await store.delete(T1, "int_1")
    assert await cache.find_by_config("business_account_id", "waba") == []
