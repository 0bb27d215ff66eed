"""The in-memory :class:`~integration_core.ports.IntegrationStore`, with its status history.

``tests/contract`` runs the same suite over it and over SQLite and PostgreSQL. Its rotation
leases live beside it, in :mod:`integration_core.testing.rotation_leases`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from integration_core.channels import Channel, Integration, IntegrationStatus, StatusChange
from integration_core.errors import IntegrationExists, NotFound
from integration_core.ids import TenantId
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState
from integration_core.testing._outage import OutageSwitch
from integration_core.testing.rotation_leases import InMemoryRotationLeases


class InMemoryIntegrationStore(OutageSwitch):
    """Keep integrations in a dict; set ``available = False`` to play a database outage."""

    def __init__(self, *, on_change: Callable[[str], None] | None = None) -> None:
        self.on_change = on_change
        """Called with the id of every integration added, changed, rotated or deleted."""
        self._items: dict[str, Integration] = {}
        self._history: dict[str, list[StatusChange]] = {}
        self._leases = InMemoryRotationLeases()

    async def add(self, integration: Integration) -> None:
        """See :meth:`IntegrationChanges.add`."""
        self._check()
        key = (integration.channel, integration.external_id)
        if integration.id in self._items or any(
            (i.channel, i.external_id) == key for i in self._items.values()
        ):
            raise IntegrationExists()
        self._items[integration.id] = integration
        self._history[integration.id] = []
        self._record(integration)
        self._changed(integration.id)

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """See :meth:`IntegrationChanges.get`."""
        self._check()
        found = self._items.get(integration_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"integration {integration_id} was not found")
        return found

    async def find(self, integration_id: str) -> Integration | None:
        """See :meth:`IntegrationDirectory.find`."""
        self._check()
        return self._items.get(integration_id)

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """See :meth:`IntegrationDirectory.find_by_external_id`."""
        self._check()
        return next(
            (
                i
                for i in self._items.values()
                if i.channel is channel and i.external_id == external_id
            ),
            None,
        )

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """See :meth:`IntegrationDirectory.find_by_config`."""
        self._check()
        return sorted(
            (i for i in self._items.values() if i.config.get(key) == value), key=lambda i: i.id
        )

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """See :meth:`IntegrationChanges.list`."""
        self._check()
        found = [
            i
            for i in self._items.values()
            if i.tenant_id == tenant_id and (channel is None or i.channel is channel)
        ]
        return sorted(found, key=lambda i: (i.created_at, i.id))

    async def modify(
        self,
        tenant_id: TenantId,
        integration_id: str,
        change: Callable[[Integration], Integration],
    ) -> Integration:
        """See :meth:`IntegrationChanges.modify`."""
        self._check()
        current = self._items.get(integration_id)
        if current is None or current.tenant_id != tenant_id:
            raise NotFound(f"integration {integration_id} was not found")
        changed = change(current)
        key = (current.channel, changed.external_id)
        if any(
            (i.channel, i.external_id) == key and i.id != integration_id
            for i in self._items.values()
        ):
            raise IntegrationExists()
        result = current.with_changes_from(changed)
        if result.status is not current.status:
            self._record(result)
        self._items[integration_id] = result
        self._changed(integration_id)
        return result

    async def update(self, integration: Integration) -> None:
        """See :meth:`IntegrationChanges.update`."""
        self._check()
        current = self._items.get(integration.id)
        if current is None or current.tenant_id != integration.tenant_id:
            raise NotFound(f"integration {integration.id} was not found")
        key = (integration.channel, integration.external_id)
        if any(
            (i.channel, i.external_id) == key and i.id != integration.id
            for i in self._items.values()
        ):
            raise IntegrationExists()
        self._items[integration.id] = integration
        if integration.status is not current.status:
            self._record(integration)
        self._changed(integration.id)

    async def status_history(
        self, tenant_id: TenantId, integration_id: str
    ) -> Sequence[StatusChange]:
        """See :meth:`IntegrationChanges.status_history`."""
        await self.get(tenant_id, integration_id)
        return tuple(self._history[integration_id])

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """See :meth:`IntegrationChanges.delete`."""
        await self.get(tenant_id, integration_id)
        del self._items[integration_id]
        del self._history[integration_id]
        self._leases.forget(integration_id)
        self._changed(integration_id)

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """See :meth:`IntegrationChanges.expiring_before`."""
        self._check()
        found = [
            i
            for i in self._items.values()
            if i.token_expires_at is not None and i.token_expires_at < moment
        ]
        return sorted(found, key=lambda i: (i.token_expires_at, i.id))

    async def count_by_channel(self) -> Mapping[Channel, int]:
        """See :meth:`IntegrationChanges.count_by_channel`."""
        self._check()
        counts: dict[Channel, int] = {}
        for i in self._items.values():
            if i.status is IntegrationStatus.ACTIVE:
                counts[i.channel] = counts.get(i.channel, 0) + 1
        return counts

    async def claim_for_rotation(self, criteria: RotationCriteria) -> Sequence[RotationClaim]:
        """See :meth:`RotationLeases.claim_for_rotation`."""
        self._check()
        return self._leases.claim(list(self._items.values()), criteria)

    async def claim_one_for_rotation(
        self, integration_id: str, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """See :meth:`RotationLeases.claim_one_for_rotation`."""
        self._check()
        found = self._items.get(integration_id)
        if found is None:
            return None
        return self._leases.claim_one(found, owner=owner, now=now, lease=lease)

    async def release_rotation(
        self, claim: RotationClaim, *, integration: Integration, state: RotationState
    ) -> bool:
        """See :meth:`RotationLeases.release_rotation`."""
        self._check()
        before = self._items.get(claim.integration.id)
        released = self._leases.release(self._items, claim, integration=integration, state=state)
        after = self._items[claim.integration.id] if released else None
        if before is not None and after is not None and after.status is not before.status:
            self._record(after)
        if released:
            self._changed(claim.integration.id)
        return released

    def _record(self, integration: Integration) -> None:
        change = StatusChange(status=integration.status, at=integration.status_changed_at)
        self._history[integration.id].append(change)

    def _changed(self, integration_id: str) -> None:
        if self.on_change is not None:
            self.on_change(integration_id)
