"""The in-memory event store, with the same behaviour as the database adapter.

``tests/contract`` runs the same suites over these and over SQLite and PostgreSQL, so a test that
swaps them in is testing what production does. Each store can be told to fail, to exercise the
"database down" paths: set ``available = False``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from integration_core.channels import Channel
from integration_core.errors import NotFound
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    QueueStats,
    Settlement,
    new_lease_token,
    queued_any,
)
from integration_core.ids import TenantId
from integration_core.paging import Page, check_limit, decode_cursor, encode_cursor
from integration_core.testing._outage import OutageSwitch
from integration_core.webhooks import InboundEvent


class InMemoryEventStore(OutageSwitch):
    """Keep inbound deliveries and events in dicts, with leases like the SQL outbox."""

    def __init__(self, *, on_queued: Callable[[], None] | None = None) -> None:
        self.on_queued = on_queued
        """Called after a record or requeue queued an event for forwarding (wakes workers)."""
        self._inbound: dict[str, InboundEvent] = {}
        self._events: dict[str, EventRecord] = {}
        self._keys: dict[tuple[Channel, str], str] = {}
        self._leases: dict[str, datetime] = {}

    async def record(
        self, inbound: InboundEvent | None, events: Sequence[EventRecord]
    ) -> tuple[bool, ...]:
        """See :meth:`EventLog.record`."""
        self._check()
        if inbound is not None:
            self._inbound.setdefault(inbound.id, inbound)
        outcome: list[bool] = []
        for event in events:
            key = (event.channel, event.dedupe_key)
            if key in self._keys or event.id in self._events:
                outcome.append(False)
                continue
            self._keys[key] = event.id
            self._events[event.id] = event
            outcome.append(True)
        if self.on_queued is not None and queued_any(outcome, events):
            self.on_queued()
        return tuple(outcome)

    def hold(self, event_ids: Sequence[str], until: datetime) -> None:
        """Keep the stored *event_ids* (which carry their lease token) from any claim until
        *until*, as :meth:`InMemoryEventInbox.complete` stores events for their splitter."""
        for event_id in event_ids:
            self._leases[event_id] = until

    async def get(self, tenant_id: TenantId, event_id: str) -> EventRecord:
        """See :meth:`EventLog.get`."""
        self._check()
        found = self._events.get(event_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(f"event {event_id} was not found")
        return found

    async def get_inbound(self, inbound_id: str) -> InboundEvent:
        """See :meth:`EventLog.get_inbound`."""
        self._check()
        try:
            return self._inbound[inbound_id]
        except KeyError:
            raise NotFound(f"inbound delivery {inbound_id} was not found") from None

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
        """See :meth:`EventLog.list`."""
        self._check()
        check_limit(limit)
        after_id = decode_cursor(cursor) if cursor else None
        found = sorted(
            (
                e
                for e in self._events.values()
                if e.tenant_id == tenant_id
                and (status is None or e.status is status)
                and (channel is None or e.channel is channel)
                and (received_after is None or e.received_at >= received_after)
                and (received_before is None or e.received_at < received_before)
                and (after_id is None or e.id < after_id)
            ),
            key=lambda e: e.id,
            reverse=True,
        )
        items = tuple(found[:limit])
        more = len(found) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)

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
        """See :meth:`EventLog.scan`."""
        self._check()
        check_limit(limit)
        return sorted(
            (
                e
                for e in self._events.values()
                if (tenant_id is None or e.tenant_id == tenant_id)
                and (status is None or e.status is status)
                and (received_after is None or e.received_at >= received_after)
                and (received_before is None or e.received_at < received_before)
                and (after_id is None or e.id > after_id)
            ),
            key=lambda e: e.id,
        )[:limit]

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta
    ) -> Sequence[EventRecord]:
        """See :meth:`Outbox.claim_due`."""
        self._check()
        due = sorted(
            (
                e
                for e in self._events.values()
                if e.status is DeliveryStatus.PENDING
                and (e.next_attempt_at is None or e.next_attempt_at <= now)
                and self._leases.get(e.id, now) <= now
            ),
            key=lambda e: (e.next_attempt_at or e.received_at, e.id),
        )[:limit]
        token = new_lease_token()
        claimed = [attrs.evolve(event, lease_token=token) for event in due]
        for event in claimed:
            self._leases[event.id] = now + lease
            self._events[event.id] = event
        return claimed

    async def settle(self, settlements: Sequence[Settlement]) -> Sequence[str]:
        """See :meth:`Outbox.settle`."""
        self._check()
        skipped: builtins.list[str] = []
        for settlement in settlements:
            event = self._events.get(settlement.event_id)
            if event is None or event.lease_token != settlement.lease_token:
                skipped.append(settlement.event_id)
                continue
            self._leases.pop(event.id, None)
            if settlement.error is None:
                changes: dict[str, Any] = {"delivered_at": settlement.at, "next_attempt_at": None}
            else:
                changes = {"last_error": settlement.error, "next_attempt_at": settlement.retry_at}
            self._events[event.id] = attrs.evolve(
                event,
                status=settlement.status,
                attempts=event.attempts + 1,
                lease_token=None,
                **changes,
            )
        return skipped

    async def requeue(
        self,
        tenant_id: TenantId,
        event_id: str,
        *,
        at: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> EventRecord:
        """See :meth:`EventLog.requeue`."""
        event = await self.get(tenant_id, event_id)
        self._leases.pop(event_id, None)
        again = attrs.evolve(
            event,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=at,
            delivered_at=None,
            data=event.data if data is None else data,
            lease_token=None,
        )
        self._events[event_id] = again
        if self.on_queued is not None:
            self.on_queued()
        return again

    async def stats(self) -> QueueStats:
        """See :meth:`Outbox.stats`."""
        self._check()
        pending = [e for e in self._events.values() if e.status is DeliveryStatus.PENDING]
        dead = sum(1 for e in self._events.values() if e.status is DeliveryStatus.DEAD)
        oldest = min((e.received_at for e in pending), default=None)
        return QueueStats(pending=len(pending), dead=dead, oldest_pending_at=oldest)
