"""The integration ports, by role: lookups, changes and history, rotation leases.

Every method raises :class:`~integration_core.errors.StorageUnavailable` when the store cannot
be reached, never a driver's own exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from integration_core.channels import (
    Channel,
    Integration,
    StatusChange,
)
from integration_core.ids import TenantId
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState


class IntegrationDirectory(Protocol):
    """Find integrations of any tenant: webhook routing, handshakes, shared platform objects."""

    async def find(self, integration_id: str) -> Integration | None:
        """Return any tenant's integration by id (webhook routing only), or ``None``."""
        ...

    async def find_by_external_id(self, channel: Channel, external_id: str) -> Integration | None:
        """Return the integration that owns *external_id* on *channel*, or ``None``."""
        ...

    async def find_by_config(self, key: str, value: str) -> Sequence[Integration]:
        """Return every integration, of any tenant, whose ``config[key]`` is *value*, by id.

        Finds who else uses a platform object shared between accounts (a WhatsApp business
        account, a Facebook Page) before undoing its webhook subscription.
        """
        ...


class IntegrationChanges(Protocol):
    """Keep integrations and their status history; every read for a caller is tenant-scoped."""

    async def add(self, integration: Integration) -> None:
        """Store a new integration.

        Raises :class:`IntegrationExists` when its channel and external id are already connected
        (by any tenant), since that pair routes webhooks.
        """
        ...

    async def get(self, tenant_id: TenantId, integration_id: str) -> Integration:
        """Return the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        ...

    async def list(
        self, tenant_id: TenantId, *, channel: Channel | None = None
    ) -> Sequence[Integration]:
        """Return the tenant's integrations, oldest first."""
        ...

    async def update(self, integration: Integration) -> None:
        """Replace a stored integration (matched by id and tenant); :class:`NotFound` if absent.

        :class:`IntegrationExists` for an external id another integration owns; a status move is
        appended to the history.
        """
        ...

    async def modify(
        self,
        tenant_id: TenantId,
        integration_id: str,
        change: Callable[[Integration], Integration],
    ) -> Integration:
        """Apply *change* to the integration as stored, under its row lock; return the result.

        Only what *change* altered among status (with ``status_changed_at``, appended to the
        history), config, external id and ``updated_at`` is written, so a concurrent token
        rotation's new expiry is never undone. *change* may raise: nothing is written then.
        :class:`NotFound` if absent or another tenant's; :class:`IntegrationExists` for an
        external id another integration owns.
        """
        ...

    async def status_history(
        self, tenant_id: TenantId, integration_id: str
    ) -> Sequence[StatusChange]:
        """Return the integration's status changes, oldest first; :class:`NotFound` as ``get``."""
        ...

    async def delete(self, tenant_id: TenantId, integration_id: str) -> None:
        """Remove the tenant's integration; :class:`NotFound` if absent or another tenant's."""
        ...

    async def expiring_before(self, moment: datetime) -> Sequence[Integration]:
        """Return integrations of any tenant whose token expires before *moment*, soonest first."""
        ...

    async def count_by_channel(self) -> Mapping[Channel, int]:
        """Return how many active integrations each channel has (channels with none omitted)."""
        ...


class RotationLeases(Protocol):
    """Lease integrations to one token rotator at a time, across replicas."""

    async def claim_for_rotation(self, criteria: RotationCriteria) -> Sequence[RotationClaim]:
        """Lease the integrations *criteria* finds due for token rotation, to its owner.

        Race-free across replicas: an integration is held by one owner at a time, until its
        lease ends or it is released.
        """
        ...

    async def claim_one_for_rotation(
        self, integration_id: str, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """Lease one integration to *owner*, due or not (a refresh its tenant asked for).

        ``None`` if another rotator holds it, or it does not exist.
        """
        ...

    async def release_rotation(
        self, claim: RotationClaim, *, integration: Integration, state: RotationState
    ) -> bool:
        """Save a rotation's result and free the lease; ``False`` if *claim* no longer holds it.

        Writes *integration*'s token expiry and ``updated_at``, and its status (with
        ``status_changed_at``) only if the stored status is still the one claimed, so a status
        an operator set meanwhile (say ``disabled``) wins; then *state*.
        """
        ...


class IntegrationStore(IntegrationChanges, IntegrationDirectory, RotationLeases, Protocol):
    """All three roles, as the SQL store and its fake implement them; a use case asks for the
    narrowest it needs. The store is given ``on_change``, called with the id of every
    integration it adds, changes, rotates or deletes (caches forget it)."""
