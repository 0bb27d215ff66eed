"""TawkToReports over the in-memory stores: chats counted once, windows, partial reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.errors import InvalidInput, NotFound
from integration_core.events import EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.testing import FrozenClock, InMemoryEventStore, InMemoryIntegrationStore
from integration_core.use_cases.tawkto_reports import TawkToReports

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACME = TenantId("acme")


async def world(max_events: int = 50_000) -> tuple[TawkToReports, InMemoryEventStore, str]:
    integrations = InMemoryIntegrationStore()
    integration = Integration(
        id=new_id("int"),
        tenant_id=ACME,
        channel=Channel.TAWKTO,
        status=IntegrationStatus.ACTIVE,
        external_id="prop-1",
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )
    await integrations.add(integration)
    events = InMemoryEventStore()
    reports = TawkToReports(
        integrations=integrations,
        events=events,
        clock=FrozenClock(AT + timedelta(hours=1)),
        max_events=max_events,
    )
    return reports, events, integration.id


def event(integration_id: str, kind: EventType, chat: str, minute: int, **data: Any) -> EventRecord:
    at = AT + timedelta(minutes=minute)
    return EventRecord(
        id=new_id("evt"),
        channel=Channel.TAWKTO,
        dedupe_key=f"{chat}:{kind}:{minute}",
        type=kind,
        tenant_id=ACME,
        integration_id=integration_id,
        occurred_at=at,
        received_at=at,
        data={"conversation": {"id": chat, **data}},
    )


async def test_a_chat_is_counted_once_and_active_until_it_ends() -> None:
    reports, events, iid = await world()
    await events.record(
        None,
        [
            event(iid, EventType.CONVERSATION_STARTED, "c-1", 0, visitor={"name": "Ana"}),
            event(iid, EventType.CONVERSATION_ENDED, "c-1", 3),
            event(iid, EventType.CONVERSATION_ENDED, "c-1", 5),  # the transcript
            event(iid, EventType.CONVERSATION_STARTED, "c-2", 10),
        ],
    )

    report = await reports.analytics(ACME, "acme")
    sessions = await reports.sessions(ACME, "acme")

    assert (report.chats_started, report.chats_ended, report.chats_active) == (2, 1, 1)
    assert report.average_chat_seconds == 180.0
    assert [s.conversation_id for s in sessions.sessions] == ["c-2"]


async def test_a_report_past_the_event_cap_says_it_is_partial() -> None:
    reports, events, iid = await world(max_events=250)
    await events.record(
        None,
        [event(iid, EventType.CONVERSATION_STARTED, f"c-{n}", n % 50) for n in range(450)],
    )

    report = await reports.analytics(ACME, "acme")

    assert report.complete is False
    assert 250 <= report.chats_started < 450


async def test_another_tenant_and_bad_windows_are_refused() -> None:
    reports, _, _ = await world()

    with pytest.raises(NotFound):
        await reports.analytics(ACME, "globex")
    with pytest.raises(NotFound):
        await reports.sessions(TenantId("globex"), "globex")
    with pytest.raises(InvalidInput):
        await reports.analytics(ACME, "acme", start=AT, end=AT - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        await reports.analytics(ACME, "acme", start=AT - timedelta(days=400), end=AT)
    with pytest.raises(InvalidInput):
        await reports.sessions(ACME, "acme", lookback=timedelta(days=8))
