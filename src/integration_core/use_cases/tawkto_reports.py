"""Tawk.to analytics and active sessions, computed from the Tawk.to events we store.

Tawk.to's REST API has no documented analytics or session listing (PLATFORMS.md 3.2), and its
webhooks are what we have: ``chat:start`` (``conversation.started``), ``chat:end`` and
``chat:transcript_created`` (both ``conversation.ended``) and ``ticket:create``
(``ticket.created``). A chat is identified by its conversation id (Tawk.to's ``chatId``) and is
*active* from its start until an end arrives. Chats are counted once each, so the second
``conversation.ended`` a transcript brings for the same chat is not a second chat.

Both reports read the tenant's stored events of a time window (by receipt time, which the event
store indexes) page by page, up to :data:`MAX_EVENTS`; past that a report says it is partial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import attrs

from integration_core.channels import Channel
from integration_core.errors import InvalidInput, NotFound
from integration_core.events import EventRecord, EventType
from integration_core.ids import TenantId
from integration_core.paging import MAX_LIMIT
from integration_core.ports import Clock, EventLog, IntegrationStore
from integration_core.use_cases.tawkto_config import tawkto_integration

MAX_EVENTS: Final = 50_000
MAX_WINDOW: Final = timedelta(days=366)
DEFAULT_WINDOW: Final = timedelta(days=30)
DEFAULT_SESSION_LOOKBACK: Final = timedelta(hours=24)
MAX_SESSION_LOOKBACK: Final = timedelta(days=7)


@attrs.frozen(kw_only=True)
class DailyCounts:
    """One UTC day of a report."""

    day: date
    chats_started: int = 0
    chats_ended: int = 0
    tickets_created: int = 0


@attrs.frozen(kw_only=True)
class TawkToAnalytics:
    """Chats and tickets of a window; *complete* is ``False`` if :data:`MAX_EVENTS` cut it."""

    tenant_id: TenantId
    start: datetime
    end: datetime
    property_id: str | None
    chats_started: int
    chats_ended: int
    chats_active: int
    average_chat_seconds: float | None
    tickets_created: int
    days: tuple[DailyCounts, ...]
    complete: bool = True


@attrs.frozen(kw_only=True)
class ActiveSession:
    """A chat that started and has not ended (as far as the stored events tell)."""

    conversation_id: str
    integration_id: str | None
    started_at: datetime
    visitor: dict[str, Any] = attrs.field(factory=dict)
    first_message: str | None = None


@attrs.frozen(kw_only=True)
class TawkToSessions:
    """The active chats, newest first, of chats started since *since*."""

    tenant_id: TenantId
    since: datetime
    property_id: str | None
    sessions: tuple[ActiveSession, ...]
    complete: bool = True


class TawkToReports:
    """Compute a tenant's Tawk.to analytics and active sessions from its stored events."""

    def __init__(
        self,
        *,
        integrations: IntegrationStore,
        events: EventLog,
        clock: Clock,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self._integrations = integrations
        self._events = events
        self._clock = clock
        self._max_events = max_events

    async def analytics(
        self,
        caller: TenantId,
        tenant: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        property_id: str | None = None,
    ) -> TawkToAnalytics:
        """Return chat and ticket counts between *start* and *end* (default: the last 30 days).

        Raises :class:`NotFound` (not the caller's tenant, or no such property) and
        :class:`InvalidInput` (a window that is reversed or longer than a year).
        """
        end = end or self._clock.now()
        start = start or end - DEFAULT_WINDOW
        if not start < end or end - start > MAX_WINDOW:
            raise InvalidInput(
                "the window is not valid",
                problems=("from must be before to, and at most 366 days before it",),
            )
        integration_id = await self._scope(caller, tenant, property_id)
        records, complete = await self._read(caller, start, end, integration_id)
        chats = _Chats.of(records)
        days: dict[date, DailyCounts] = {}
        for record in records:
            field = _DAILY_FIELDS.get(record.type)
            if field is not None:
                day = record.occurred_at.date()
                counts = days.get(day) or DailyCounts(day=day)
                days[day] = attrs.evolve(counts, **{field: getattr(counts, field) + 1})
        durations = [
            (chats.ended[cid] - started).total_seconds()
            for cid, started in chats.started.items()
            if cid in chats.ended and chats.ended[cid] >= started
        ]
        return TawkToAnalytics(
            tenant_id=caller,
            start=start,
            end=end,
            property_id=property_id,
            chats_started=len(chats.started),
            chats_ended=len(chats.ended),
            chats_active=len(chats.active()),
            average_chat_seconds=round(sum(durations) / len(durations), 3) if durations else None,
            tickets_created=sum(1 for r in records if r.type is EventType.TICKET_CREATED),
            days=tuple(days[d] for d in sorted(days)),
            complete=complete,
        )

    async def sessions(
        self,
        caller: TenantId,
        tenant: str,
        *,
        lookback: timedelta = DEFAULT_SESSION_LOOKBACK,
        property_id: str | None = None,
    ) -> TawkToSessions:
        """Return the chats started within *lookback* that have not ended, newest first.

        A chat whose end never reached us stays active until it leaves the lookback, which is
        why the window is bounded. Raises :class:`NotFound` and :class:`InvalidInput`.
        """
        if not timedelta(0) < lookback <= MAX_SESSION_LOOKBACK:
            raise InvalidInput(
                "the lookback is not valid",
                problems=("hours must be between 1 and 168",),
            )
        integration_id = await self._scope(caller, tenant, property_id)
        now = self._clock.now()
        records, complete = await self._read(caller, now - lookback, None, integration_id)
        chats = _Chats.of(records)
        sessions = sorted(
            (_session(chats.first[cid]) for cid in chats.active()),
            key=lambda s: (s.started_at, s.conversation_id),
            reverse=True,
        )
        return TawkToSessions(
            tenant_id=caller,
            since=now - lookback,
            property_id=property_id,
            sessions=tuple(sessions),
            complete=complete,
        )

    async def _scope(self, caller: TenantId, tenant: str, property_id: str | None) -> str | None:
        """Check *tenant* is the caller's own; return the named property's integration id."""
        if property_id is None:
            # Any of the tenant's Tawk.to events; still refuse another tenant's path.
            await _require_tawkto(self._integrations, caller, tenant)
            return None
        found = await tawkto_integration(self._integrations, caller, tenant, property_id)
        return found.id

    async def _read(
        self,
        tenant_id: TenantId,
        start: datetime,
        end: datetime | None,
        integration_id: str | None,
    ) -> tuple[list[EventRecord], bool]:
        found: list[EventRecord] = []
        cursor: str | None = None
        while True:
            page = await self._events.list(
                tenant_id,
                channel=Channel.TAWKTO,
                received_after=start,
                received_before=end,
                limit=MAX_LIMIT,
                cursor=cursor,
            )
            found.extend(
                r
                for r in page.items
                if integration_id is None or r.integration_id == integration_id
            )
            cursor = page.next_cursor
            if cursor is None:
                return found, True
            if len(found) >= self._max_events:
                return found, False


async def _require_tawkto(integrations: IntegrationStore, caller: TenantId, tenant: str) -> None:
    """Raise :class:`NotFound` unless *tenant* is *caller* and has a Tawk.to integration."""
    if tenant != caller or not await integrations.list(caller, channel=Channel.TAWKTO):
        raise NotFound("there is no Tawk.to integration for this tenant")


_DAILY_FIELDS: Final = {
    EventType.CONVERSATION_STARTED: "chats_started",
    EventType.CONVERSATION_ENDED: "chats_ended",
    EventType.TICKET_CREATED: "tickets_created",
}


@attrs.define
class _Chats:
    """Chats by conversation id: the earliest start, the earliest end, the starting event."""

    started: dict[str, datetime] = attrs.field(factory=dict)
    ended: dict[str, datetime] = attrs.field(factory=dict)
    first: dict[str, EventRecord] = attrs.field(factory=dict)

    @classmethod
    def of(cls, records: Sequence[EventRecord]) -> _Chats:
        chats = cls()
        for record in records:
            cid = _conversation_id(record)
            if cid is None:
                continue
            at = record.occurred_at
            if record.type is EventType.CONVERSATION_STARTED:
                if cid not in chats.started or at < chats.started[cid]:
                    chats.started[cid] = at
                    chats.first[cid] = record
            elif record.type is EventType.CONVERSATION_ENDED and (
                cid not in chats.ended or at < chats.ended[cid]
            ):
                chats.ended[cid] = at
        return chats

    def active(self) -> list[str]:
        """Return the chats that started and have no end."""
        return [cid for cid in self.started if cid not in self.ended]


def _conversation(record: EventRecord) -> Mapping[str, Any]:
    conversation = record.data.get("conversation")
    return conversation if isinstance(conversation, Mapping) else {}


def _conversation_id(record: EventRecord) -> str | None:
    found = _conversation(record).get("id")
    return found if isinstance(found, str) and found else None


def _session(record: EventRecord) -> ActiveSession:
    conversation = _conversation(record)
    visitor = conversation.get("visitor")
    message = conversation.get("message")
    text = message.get("text") if isinstance(message, Mapping) else None
    return ActiveSession(
        conversation_id=_conversation_id(record) or "",
        integration_id=record.integration_id,
        started_at=record.occurred_at,
        visitor=dict(visitor) if isinstance(visitor, Mapping) else {},
        first_message=text if isinstance(text, str) else None,
    )
