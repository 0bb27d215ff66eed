"""The token-rotation leases of :class:`~integration_core.testing.InMemoryIntegrationStore`.

Kept beside the store rather than in it: the same rule as the SQL store's conditional update
(:meth:`RotationCriteria.selects` plus a free lease), over a dict.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from integration_core.channels import Integration
from integration_core.rotation import RotationClaim, RotationCriteria, RotationState


@attrs.define
class _Lease:
    state: RotationState = attrs.field(factory=RotationState)
    owner: str | None = None
    locked_until: datetime | None = None

    def is_free(self, now: datetime) -> bool:
        return self.locked_until is None or self.locked_until <= now


class InMemoryRotationLeases:
    """Rotation state and leases by integration id."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}

    def claim(
        self, integrations: Sequence[Integration], criteria: RotationCriteria
    ) -> list[RotationClaim]:
        """Lease the due ones among *integrations* to ``criteria.owner``."""
        if criteria.limit < 1:
            return []
        now = criteria.now
        due = [
            i
            for i in integrations
            if self._lease(i.id).is_free(now) and criteria.selects(i, self._lease(i.id).state)
        ]
        due.sort(key=lambda i: (i.token_expires_at is None, i.token_expires_at or now, i.id))
        claims = []
        for integration in due[: criteria.limit]:
            lease = self._lease(integration.id)
            lease.owner, lease.locked_until = criteria.owner, now + criteria.lease
            claims.append(
                RotationClaim(
                    integration=integration,
                    state=lease.state,
                    owner=criteria.owner,
                    locked_until=lease.locked_until,
                )
            )
        return claims

    def claim_one(
        self, integration: Integration, *, owner: str, now: datetime, lease: timedelta
    ) -> RotationClaim | None:
        """Lease *integration* to *owner* if its lease is free."""
        held = self._lease(integration.id)
        if not held.is_free(now):
            return None
        held.owner, held.locked_until = owner, now + lease
        return RotationClaim(
            integration=integration, state=held.state, owner=owner, locked_until=now + lease
        )

    def release(
        self,
        items: MutableMapping[str, Integration],
        claim: RotationClaim,
        *,
        integration: Integration,
        state: RotationState,
    ) -> bool:
        """Write the result into *items* if *claim* still holds the lease."""
        current = items.get(claim.integration.id)
        lease = self._leases.get(claim.integration.id)
        if current is None or lease is None or lease.owner != claim.owner:
            return False
        changes: dict[str, Any] = {
            "token_expires_at": integration.token_expires_at,
            "updated_at": integration.updated_at,
        }
        if current.status is claim.integration.status:
            changes["status"] = integration.status
            changes["status_changed_at"] = integration.status_changed_at
        items[current.id] = attrs.evolve(current, **changes)
        self._leases[current.id] = _Lease(state=state)
        return True

    def forget(self, integration_id: str) -> None:
        """Drop what is known of a deleted integration."""
        self._leases.pop(integration_id, None)

    def _lease(self, integration_id: str) -> _Lease:
        return self._leases.setdefault(integration_id, _Lease())
