"""An in-memory spool of raw deliveries that behaves like :class:`adapters_db.inbox.SqlEventInbox`.

It stores events through the :class:`InMemoryEventStore` it is given, so a test reads what the
worker split with the same store the API lists from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from integration_core.errors import StorageUnavailable
from integration_core.events import (
    MAX_SPLIT_CLAIMS,
    SPLIT_ABANDONED,
    EventRecord,
    QueueStats,
)
from integration_core.testing.stores import InMemoryEventStore
from integration_core.webhooks import InboundEvent


@attrs.define
class _Spooled:
    delivery: InboundEvent
    state: str = "pending"
    lease_until: datetime | None = None
    attempts: int = 0
    error: str | None = None


class InMemoryEventInbox:
    """Keep spooled deliveries in a dict; set ``available = False`` (here or on the event store)
    to act as a lost database."""

    available: bool = True

    def __init__(self, events: InMemoryEventStore) -> None:
        self._events = events
        self._spool: dict[str, _Spooled] = {}

    async def append(self, inbound: InboundEvent) -> None:
        """See :meth:`EventInbox.append`."""
        self._check()
        self._spool.setdefault(inbound.id, _Spooled(inbound))
        await self._events.record(inbound, ())

    async def claim_spooled(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[InboundEvent]:
        """Lease oldest (lowest id) first; see :meth:`EventInbox.claim_spooled`."""
        self._check()
        due = [
            s
            for _, s in sorted(self._spool.items())
            if s.state == "pending" and (s.lease_until is None or s.lease_until <= now)
        ][:limit]
        for spooled in due:
            spooled.lease_until = now + lease
            spooled.attempts += 1
            if spooled.attempts > MAX_SPLIT_CLAIMS:
                spooled.state, spooled.lease_until = "failed", None
                spooled.error = SPLIT_ABANDONED
        return [s.delivery for s in due if s.state == "pending"]

    async def complete(
        self,
        splits: Sequence[tuple[InboundEvent, Sequence[EventRecord]]],
        *,
        at: datetime,
        held_until: datetime | None = None,
    ) -> list[tuple[bool, ...]]:
        """See :meth:`EventInbox.complete`."""
        self._check()
        answers: list[list[bool]] = []
        for _, records in splits:
            held = {r.id for r in records if r.lease_token is not None and held_until}
            stored = [r if r.id in held else attrs.evolve(r, lease_token=None) for r in records]
            answers.append(list(await self._events.record(None, stored)))
            if held_until is not None:
                fresh = zip(stored, answers[-1], strict=True)
                self._events.hold([r.id for r, new in fresh if new and r.id in held], held_until)
        for delivery, _ in splits:
            spooled = self._spool[delivery.id]
            spooled.state, spooled.lease_until, spooled.error = "processed", None, None
        return [tuple(a) for a in answers]

    async def fail(self, inbound_id: str, *, error: str, at: datetime) -> None:
        """See :meth:`EventInbox.fail`."""
        self._check()
        spooled = self._spool[inbound_id]
        spooled.state, spooled.lease_until, spooled.error = "failed", None, error

    async def respool(
        self,
        *,
        failed_only: bool,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
    ) -> int:
        """See :meth:`EventInbox.respool`."""
        self._check()
        states = {"failed"} if failed_only else {"failed", "processed"}
        count = 0
        for spooled in self._spool.values():
            at = spooled.delivery.received_at
            if spooled.state not in states:
                continue
            if received_after is not None and at < received_after:
                continue
            if received_before is not None and at >= received_before:
                continue
            spooled.state, spooled.lease_until, spooled.error = "pending", None, None
            spooled.attempts = 0
            count += 1
        return count

    async def spool_stats(self) -> QueueStats:
        """See :meth:`EventInbox.spool_stats`."""
        self._check()
        pending = [s for s in self._spool.values() if s.state == "pending"]
        return QueueStats(
            pending=len(pending),
            dead=sum(1 for s in self._spool.values() if s.state == "failed"),
            oldest_pending_at=min((s.delivery.received_at for s in pending), default=None),
        )

    def failures(self) -> dict[str, str]:
        """Return the error of every failed delivery, by id (for tests)."""
        return {k: s.error or "" for k, s in self._spool.items() if s.state == "failed"}

    def _check(self) -> None:
        # One database holds both: the event store's switch takes the spool down too.
        if not self.available or not self._events.available:
            raise StorageUnavailable()
