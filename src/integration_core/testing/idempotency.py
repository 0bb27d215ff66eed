"""An in-memory idempotency store, with the SQL store's behaviour (``tests/contract``)."""

from __future__ import annotations

from datetime import datetime

from integration_core.errors import NotFound
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId
from integration_core.testing._outage import OutageSwitch

_Key = tuple[TenantId, str, str]


class InMemoryIdempotencyStore(OutageSwitch):
    """Keep idempotency records in a dict; set ``available = False`` to act like a down database."""

    def __init__(self) -> None:
        self._items: dict[_Key, IdempotencyRecord] = {}

    async def claim(
        self,
        record: IdempotencyRecord,
        *,
        abandoned_before: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        """See :meth:`IdempotencyStore.claim`."""
        self._check()
        key = (record.tenant_id, record.scope, record.key)
        held = self._items.get(key)
        if held is not None and not _stale(held, abandoned_before, expired_before):
            return held
        self._items[key] = record
        return None

    async def complete(self, record: IdempotencyRecord) -> None:
        """See :meth:`IdempotencyStore.complete`."""
        self._check()
        key = (record.tenant_id, record.scope, record.key)
        held = self._items.get(key)
        if held is None or held.completed_at is not None or held.created_at != record.created_at:
            raise NotFound("the idempotency key is not claimed by this request")
        self._items[key] = record

    async def release(self, tenant_id: TenantId, scope: str, key: str) -> None:
        """See :meth:`IdempotencyStore.release`."""
        self._check()
        held = self._items.get((tenant_id, scope, key))
        if held is not None and held.completed_at is None:
            del self._items[(tenant_id, scope, key)]

    async def purge(self, *, created_before: datetime) -> int:
        """See :meth:`IdempotencyStore.purge`."""
        self._check()
        old = [key for key, held in self._items.items() if held.created_at < created_before]
        for key in old:
            del self._items[key]
        return len(old)


def _stale(held: IdempotencyRecord, abandoned_before: datetime, expired_before: datetime) -> bool:
    if held.completed_at is None:
        return held.created_at < abandoned_before
    return held.created_at < expired_before
