"""The event ports, by role: the spool of raw deliveries, the stored events, the outbox.

Every method raises :class:`~integration_core.errors.StorageUnavailable` when the store cannot
be reached, never a driver's own exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from integration_core.channels import Channel
from integration_core.events import DeliveryStatus, EventRecord, QueueStats, Settlement
from integration_core.ids import TenantId
from integration_core.paging import Page
from integration_core.webhooks import InboundEvent


class EventLog(Protocol):
    """The stored events: recorded once (deduplicated), read, listed, scanned and requeued.

    The inbox row and the outbox row are one record: storing an event is what queues it, so an
    event answered ``200`` to a platform is always forwarded (see :class:`Outbox`).
    """

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """Store a raw delivery and the events split from it, in one transaction.

        Returns, per event, ``True`` if it was new and ``False`` if an event with the same channel
        and dedupe key was already stored (the stored one is left untouched). Either everything
        is committed or :class:`StorageUnavailable` is raised.
        """
        ...

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """Return the tenant's event; :class:`NotFound` if absent or another tenant's."""
        ...

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """Return a stored raw delivery; :class:`NotFound` if absent."""
        ...

    async def list(
        self,
        tenant_id: TenantId,
        *,
        status: DeliveryStatus | None = None,
        channel: Channel | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[EventRecord]:
        """Return the tenant's events, newest first; :class:`InvalidInput` for a bad cursor.

        *received_after* is inclusive, *received_before* exclusive; a bad *limit* is
        :class:`InvalidInput` too.
        """
        ...

    async def scan(
        self,
        *,
        tenant_id: TenantId | None = None,
        status: DeliveryStatus | None = None,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
        after_id: str | None = None,
        limit: int = 200,
    ) -> Sequence[EventRecord]:
        """Return up to *limit* events with ids above *after_id*, lowest id first.

        Every tenant's events (unrouted ones included) unless *tenant_id* is given; for jobs
        that walk the whole table page by page (replay of every dead event), passing the last
        id back as *after_id*. Keyset paging, not offsets: a caller that changes the events it
        was handed (requeues them) never sees one twice nor skips one. *received_after* is
        inclusive, *received_before* exclusive; :class:`InvalidInput` for a bad *limit*.
        """
        ...

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Queue the tenant's event for delivery again at *at*, keeping its id (replay).

        The attempt count starts again at zero, so a replayed dead event gets the whole retry
        schedule. *data* replaces the payload, for a replay re-normalized from the raw delivery.
        Any lease is dropped with its token, so an attempt still in flight cannot settle it.
        """
        ...


class Outbox(Protocol):
    """The forwarding queue over the same events: leased by workers, settled by attempt."""

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """Lease up to *limit* pending events due at *now*, oldest first.

        A leased event is not handed to another caller until the lease runs out, so a crashed
        worker's events come back and concurrent workers never share one. Each record carries
        the claim's fresh ``lease_token``, for its :class:`Settlement`.
        """
        ...

    async def settle(self, settlements: Sequence[Settlement]) -> Sequence[str]:
        """Record how delivery attempts ended, all in one transaction; return the ids skipped.

        Each counts as an attempt and releases its event's lease: a delivered event is never
        sent again, a failed one is due again at its ``retry_at`` or dead-lettered. One call per
        batch keeps the outbox's bookkeeping off the per-event path. A settlement is skipped
        if its event is unknown or no longer held by its ``lease_token`` (replayed, or claimed
        again after the lease ran out): an older attempt never overwrites a newer state.
        """
        ...

    async def stats(self) -> QueueStats:
        """Return the outbox depth and its oldest pending event."""
        ...


class EventStore(EventLog, Outbox, Protocol):
    """Both roles of the events table, as one SQL class (and its fake) implements them; a use
    case asks for the narrower :class:`EventLog` or :class:`Outbox` it needs."""


class EventInbox(Protocol):
    """The spool of raw deliveries: appended by the request, split into events by a worker.

    A request is answered once :meth:`append` returned; everything that can go wrong with a
    delivery's content happens after, in :meth:`complete` or :meth:`fail`, where it concerns
    that delivery alone.
    """

    async def append(self, inbound: InboundEvent) -> None:
        """Store a verified raw delivery as pending; return once it is durable.

        Concurrent appends may share one transaction (group commit); one that the database
        refuses never fails the others. Raises :class:`StorageUnavailable`.
        """
        ...

    async def claim_spooled(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[InboundEvent]:
        """Lease up to *limit* pending deliveries, oldest first (like ``claim_due``).

        A delivery claimed :data:`~integration_core.events.MAX_SPLIT_CLAIMS` times whose lease
        ran out each time (its splitter died on it: a crash, not an error the use case
        catches) is marked ``failed`` when it comes up again, never handed out once more, so
        one poisonous delivery cannot take every worker down in turn forever.
        """
        ...

    async def complete(
        self,
        splits: Sequence[tuple[InboundEvent, Sequence[EventRecord]]],
        *,
        at: datetime,
        held_until: datetime | None = None,
    ) -> list[tuple[bool, ...]]:
        """Store the events split from each delivery and mark the deliveries processed, in one
        transaction; return, per delivery, :meth:`EventStore.record`'s answer for its events.

        With *held_until*, a new event that carries a ``lease_token`` is stored as if
        :meth:`Outbox.claim_due` had claimed it with that token until then: the splitter
        forwards it at once and settles it with the token, and no forwarder claims it
        meanwhile (if the splitter dies, the lease runs out and a forwarder does).
        """
        ...

    async def fail(self, inbound_id: str, *, error: str, at: datetime) -> None:
        """Mark a delivery that cannot be split ``failed`` with *error* (kept for replay)."""
        ...

    async def respool(
        self,
        *,
        failed_only: bool,
        received_after: datetime | None = None,
        received_before: datetime | None = None,
    ) -> int:
        """Make stored deliveries pending again (``replay --renormalize``); return how many."""
        ...

    async def spool_stats(self) -> QueueStats:
        """Return how many deliveries wait to be split and when the oldest arrived."""
        ...
