"""A short-lived cache of the integration directory, for routing webhooks without a query each.

Every split delivery asks "which integration owns this account?"; under a burst that one query
costs more than storing the event. Answers are kept for *ttl* (a few seconds). The store is
given a change callback (``on_change``) and the composition root points it at
:meth:`CachingDirectory.forget`, so a change made through this process takes effect at once; one
made by another replica, within *ttl*. A miss is cached too (a burst for an unknown account is
common), but only briefly, so a newly connected account starts receiving almost at once
everywhere. Only lookups are cached: writes never go through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from integration_core.channels import Channel, Integration
from integration_core.ports import Clock, IntegrationDirectory

_Key = tuple[Channel, str] | str
_Loader = Callable[[], Awaitable[Integration | None]]


class CachingDirectory:
    """Wrap an :class:`IntegrationDirectory`, caching :meth:`find` and
    :meth:`find_by_external_id`."""

    def __init__(
        self,
        *,
        directory: IntegrationDirectory,
        clock: Clock,
        ttl: timedelta = timedelta(seconds=5),
        miss_ttl: timedelta = timedelta(seconds=1),
        max_entries: int = 10_000,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._entries: dict[_Key, tuple[datetime, Integration | None]] = {}
        self._loading: dict[_Key, asyncio.Future[Integration | None]] = {}

    async def find(self, integration_id: str) -> Integration | None:
        """Return any tenant's integration by id, from the cache when fresh."""
        return await self._cached(integration_id, lambda: self._directory.find(integration_id))

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """Return the integration that owns the external account, from the cache when fresh."""
        return await self._cached(
            (channel, external_id),
            lambda: self._directory.find_by_external_id(channel, external_id),
        )

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """Return every integration whose ``config[key]`` is *value* (never cached)."""
        return await self._directory.find_by_config(key, value)

    def forget(self, integration_id: str) -> None:
        """Drop every cached answer: *integration_id* changed (its old account is unknown)."""
        del integration_id  # any entry may name it, under its old or new account
        self._entries.clear()

    async def _cached(self, key: _Key, load: _Loader) -> Integration | None:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock.now():
            return hit[1]
        # One query per key at a time: when an entry runs out under a burst, every delivery
        # waiting on it shares the one lookup instead of each sending its own.
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = loading
            loading.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(loading)

    async def _load(self, key: _Key, load: _Loader) -> Integration | None:
        found = await load()
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        ttl = self._ttl if found is not None else self._miss_ttl
        self._entries[key] = (self._clock.now() + ttl, found)
        return found

    def _loaded(self, key: _Key, done: asyncio.Future[Integration | None]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]


def notify_all(*listeners: Callable[[str], None]) -> Callable[[str], None]:
    """Return one change callback that tells each of *listeners* (a store has one slot)."""

    def changed(integration_id: str) -> None:
        for listener in listeners:
            listener(integration_id)

    return changed
