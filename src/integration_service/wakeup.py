"""Wake idle forwarding workers the moment the webhook side of the same process stores an event.

Workers poll the outbox every ``FORWARD_POLL_INTERVAL``; in an ``all`` process that is needless
latency, since the intake knows exactly when there is something to send. The intake gets an
:class:`EventStore` wrapped in :class:`NotifyingEventStore`, which rings a :class:`Wakeup` after
a commit that queued a new pending event. Across processes (``--role api`` and ``--role worker``)
the poll interval is the only signal, which is the point of keeping it short.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from integration_core.channels import Channel
from integration_core.events import DeliveryStatus, EventRecord, QueueStats, Settlement
from integration_core.ids import TenantId
from integration_core.paging import Page
from integration_core.ports import EventStore
from integration_core.webhooks import InboundEvent


class Wakeup:
    """A doorbell the workers of one process wait on between polls."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    def ring(self) -> None:
        """Wake every worker waiting right now (and the next one to wait)."""
        self._event.set()

    def close(self) -> None:
        """Wake everyone for good: from now on :meth:`wait` returns at once (shutdown)."""
        self._closed = True
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait up to *seconds* for a ring; return whether one came, and reset it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        rung = self._event.is_set()
        if not self._closed:
            self._event.clear()
        return rung


class NotifyingEventStore:
    """Delegate to *inner*; ring *wakeup* after :meth:`record` stored a new pending event."""

    def __init__(self, *, inner: EventStore, wakeup: Wakeup) -> None:
        self._inner = inner
        self._wakeup = wakeup

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """Store like *inner*, then wake the workers if there is something new to forward."""
        outcome = await self._inner.record(inbound, events)
        if any(
            new and event.status is DeliveryStatus.PENDING
            for new, event in zip(outcome, events, strict=True)
        ):
            self._wakeup.ring()
        return outcome

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """Return the tenant's event (see :meth:`EventStore.get`)."""
        return await self._inner.get(tenant_id, event_id)

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """Return a stored raw delivery (see :meth:`EventStore.get_inbound`)."""
        return await self._inner.get_inbound(inbound_id)

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
        """Return the tenant's events (see :meth:`EventStore.list`)."""
        return await self._inner.list(
            tenant_id,
            status=status,
            channel=channel,
            received_after=received_after,
            received_before=received_before,
            limit=limit,
            cursor=cursor,
        )

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
        """Return one page of events by id (see :meth:`EventStore.scan`)."""
        return await self._inner.scan(
            tenant_id=tenant_id,
            status=status,
            received_after=received_after,
            received_before=received_before,
            after_id=after_id,
            limit=limit,
        )

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """Lease due events (see :meth:`EventStore.claim_due`)."""
        return await self._inner.claim_due(now=now, limit=limit, lease=lease)

    async def settle(self, settlements: Sequence[Settlement]) -> Sequence[str]:
        """Record how attempts ended; return the ids skipped (see :meth:`EventStore.settle`)."""
        return await self._inner.settle(settlements)

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """Queue the event again and wake the workers (see :meth:`EventStore.requeue`)."""
        record = await self._inner.requeue(tenant_id, event_id, at=at, data=data)
        self._wakeup.ring()
        return record

    async def stats(self) -> QueueStats:
        """Return the outbox at a glance (see :meth:`EventStore.stats`)."""
        return await self._inner.stats()


if TYPE_CHECKING:
    # The wrapper must keep up with the port: mypy fails here the day they drift apart.
    def _implements_the_port(store: NotifyingEventStore) -> EventStore:
        return store
