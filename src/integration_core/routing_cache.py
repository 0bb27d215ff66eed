"""A short-lived cache of integration lookups, for routing webhooks without a query each.

Every webhook delivery asks "which integration owns this account?"; under a burst that one
query costs more than storing the event. Answers are kept for *ttl* (a few seconds): a change
made through this process (update, delete, add) takes effect at once, one made by another
replica within *ttl*; *on_change* hears the id of every integration changed through this
process (the webhook secrets cache forgets it). A miss is cached too (a burst for an unknown
account is common), but only briefly, so a newly connected account starts receiving almost at
once everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from integration_core.channels import Channel, Integration, StatusChange
from integration_core.ids import TenantId
from integration_core.ports import Clock, IntegrationStore
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState

_Key = tuple[Channel, str] | str
_Loader = Callable[[], Awaitable[Integration | None]]


class CachingIntegrationStore:
    """Wrap an :class:`IntegrationStore`, caching :meth:`find` and :meth:`find_by_external_id`."""

    def __init__(
        self,
        *,
        store: IntegrationStore,
        clock: Clock,
        ttl: timedelta = timedelta(seconds=5),
        miss_ttl: timedelta = timedelta(seconds=1),
        max_entries: int = 10_000,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._on_change = on_change
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._entries: dict[_Key, tuple[datetime, Integration | None]] = {}
        self._loading: dict[_Key, asyncio.Future[Integration | None]] = {}

    async def find(self, integration_id: str) -> Integration | None:
        """Return any tenant's integration by id, from the cache when fresh."""
        return await self._cached(integration_id, lambda: self._store.find(integration_id))

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """Return the integration that owns the external account, from the cache when fresh."""
        return await self._cached(
            (channel, external_id),
            lambda: self._store.find_by_external_id(channel, external_id),
        )

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """Return every integration whose ``config[key]`` is *value* (never cached)."""
        return await self._store.find_by_config(key, value)

    async def add(self, integration: Integration) -> None:
        """Store a new integration and forget cached answers about its account."""
        await self._store.add(integration)
        self._forget(integration)

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """Return the tenant's integration (never cached: management reads want the truth)."""
        return await self._store.get(tenant_id, integration_id)

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """Return the tenant's integrations."""
        return await self._store.list(tenant_id, channel=channel)

    async def update(self, integration: Integration) -> None:
        """Replace a stored integration and forget what the cache knew of it."""
        await self._store.update(integration)
        self._entries.clear()  # its old external id may differ from the new one
        self._changed(integration.id)

    async def modify(
        self,
        tenant_id: TenantId,
        integration_id: str,
        change: Callable[[Integration], Integration],
    ) -> Integration:
        """Change a stored integration field by field and forget what the cache knew of it."""
        changed = await self._store.modify(tenant_id, integration_id, change)
        self._entries.clear()
        self._changed(integration_id)
        return changed

    async def status_history(
        self, tenant_id: TenantId, integration_id: str
    ) -> Sequence[StatusChange]:
        """Return the integration's status changes (never cached, like :meth:`get`)."""
        return await self._store.status_history(tenant_id, integration_id)

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove the tenant's integration and forget what the cache knew of it."""
        await self._store.delete(tenant_id, integration_id)
        self._entries.clear()
        self._changed(integration_id)

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """Return integrations whose token expires before *moment*."""
        return await self._store.expiring_before(moment)

    async def count_by_channel(self) -> Mapping[Channel, int]:
        """Return how many active integrations each channel has."""
        return await self._store.count_by_channel()

    async def claim_for_rotation(self, criteria: RotationCriteria) -> Sequence[RotationClaim]:
        """Lease the integrations due for token rotation (never cached)."""
        return await self._store.claim_for_rotation(criteria)

    async def claim_one_for_rotation(
        self, integration_id: str, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """Lease one integration, due or not (never cached)."""
        return await self._store.claim_one_for_rotation(
            integration_id, owner=owner, now=now, lease=lease
        )

    async def release_rotation(
        self, claim: RotationClaim, *, integration: Integration, state: RotationState
    ) -> bool:
        """Save a rotation's result and forget what the cache knew of the integration."""
        released = await self._store.release_rotation(claim, integration=integration, state=state)
        self._forget(claim.integration)
        return released

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

    def _forget(self, integration: Integration) -> None:
        self._entries.pop(integration.id, None)
        self._entries.pop((integration.channel, integration.external_id), None)
        self._changed(integration.id)

    def _changed(self, integration_id: str) -> None:
        if self._on_change is not None:
            self._on_change(integration_id)
