"""The bookkeeping of token rotation: who holds an integration's lease, how often it failed.

Token rotation calls platforms, which takes seconds; a database transaction must not stay open
that long (on SQLite it would stop every other writer). So an integration is *claimed* with a
lease instead: one conditional update marks it as held by one rotator until the lease ends, and
:meth:`~integration_core.ports.IntegrationStore.release_rotation` writes the result only while
that rotator still holds it. Two rotators, on any number of replicas, never work on one
integration at once, and a crashed rotator's integrations come back when its lease runs out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import attrs

from integration_core.channels import Channel, Integration, IntegrationStatus

# Disabled integrations are left alone; reauthorization_required ones wait for the tenant.
_ROTATING = frozenset({IntegrationStatus.ACTIVE, IntegrationStatus.EXPIRED})


@attrs.frozen(kw_only=True)
class RotationState:
    """Where rotation stands for one integration.

    *failures* counts consecutive failed attempts on the token that expires at *failed_expiry*
    (a new token starts again from zero); no attempt is made before *next_attempt_at* (the
    cooldown after a failure, or the next probe of a token that never expires).
    """

    failures: int = 0
    failed_expiry: datetime | None = None
    next_attempt_at: datetime | None = None

    def failures_of(self, integration: Integration) -> int:
        """Return the failures counted against *integration*'s current token."""
        return self.failures if self.failed_expiry == integration.token_expires_at else 0

    def is_due(self, now: datetime) -> bool:
        """Tell whether an attempt may be made at *now* (no cooldown running)."""
        return self.next_attempt_at is None or self.next_attempt_at <= now


@attrs.frozen(kw_only=True)
class RotationCriteria:
    """Which integrations a rotator claims, and for how long.

    An ``active`` or ``expired`` integration whose lease is free is due when

    - its token expires before *refresh_before* and no cooldown runs (refresh), or
    - it is ``active`` and its token expired at or before *now* (mark it expired), or
    - its token never expires, its channel is in *probe_channels* and no cooldown runs (probe).

    Up to *limit* are claimed, soonest expiry first, for *lease*, under the name *owner*.
    """

    owner: str
    now: datetime
    refresh_before: datetime
    probe_channels: Collection[Channel]
    lease: timedelta
    limit: int

    def selects(self, integration: Integration, state: RotationState) -> bool:
        """Tell whether *integration* is due (its lease aside): the rule every store applies."""
        if integration.status not in _ROTATING:
            return False
        now, expires_at = self.now, integration.token_expires_at
        if expires_at is None:
            return (
                integration.status is IntegrationStatus.ACTIVE
                and integration.channel in self.probe_channels
                and state.is_due(now)
            )
        lapsed = expires_at <= now and integration.status is IntegrationStatus.ACTIVE
        return lapsed or (expires_at < self.refresh_before and state.is_due(now))


@attrs.frozen(kw_only=True)
class RotationClaim:
    """An integration leased to *owner* until *locked_until*, with its rotation state."""

    integration: Integration
    state: RotationState
    owner: str
    locked_until: datetime
