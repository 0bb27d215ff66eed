"""The EventInbox contract (the spool of raw deliveries), over memory, SQLite and PostgreSQL.

A request is answered once ``append`` returned, so what is appended must survive and come back
to exactly one claimer; one delivery the database refuses must change no other's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from adapters_db.inbox import SqlEventInbox
from integration_core.channels import Channel
from integration_core.errors import InvalidInput
from integration_core.events import (
    MAX_SPLIT_CLAIMS,
    DeliveryStatus,
    EventRecord,
    EventType,
    Settlement,
)
from integration_core.ids import TenantId, new_id
from integration_core.ports import EventInbox, EventStore
from integration_core.testing import InMemoryEventInbox, InMemoryEventStore
from integration_core.webhooks import InboundEvent

from .conftest import Backend

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
SOON = AT + timedelta(seconds=5)
"""When the events of the first deliveries are due."""


@pytest.fixture
async def inbox(backend: Backend, event_store: EventStore) -> AsyncIterator[EventInbox]:
    """Yield an empty spool of the backend, over the backend's event store."""
    if backend.engine is None:
        assert isinstance(event_store, InMemoryEventStore)
        yield InMemoryEventInbox(event_store)
        return
    sql = SqlEventInbox(engine=backend.engine)
    try:
        yield sql
    finally:
        await sql.aclose()


def delivery(n: int, *, query: dict[str, str] | None = None) -> InboundEvent:
    return InboundEvent(
        id=new_id("in", now_ms=1_800_000_000_000 + n),
        channel=Channel.WHATSAPP,
        received_at=AT + timedelta(seconds=n),
        body=b'{"n": %d, "text": "\\ud83d \\u0000"}' % n,
        headers={"x-hub-signature-256": "sha256=00"},
        query=query or {},
        integration_id=f"int_{n:026d}" if n % 2 else None,
        verified_by=f"int_{n:026d}" if n % 2 else None,
    )


def event_of(d: InboundEvent, key: str) -> EventRecord:
    return EventRecord(
        id=new_id("evt"),
        channel=d.channel,
        dedupe_key=key,
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=TenantId("t1"),
        integration_id="int_1",
        inbound_id=d.id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=d.received_at,
        occurred_at=d.received_at,
        received_at=d.received_at,
        data={"message": {"id": key}},
    )


async def test_appended_deliveries_come_back_once_each_with_everything_kept(
    inbox: EventInbox,
) -> None:
    appended = [delivery(n) for n in range(5)]
    await asyncio.gather(*(inbox.append(d) for d in appended))

    first = await inbox.claim_spooled(now=AT, limit=3, lease=LEASE)
    second = await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)
    again = await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)

    assert [d.id for d in (*first, *second)] == [d.id for d in appended], "oldest first"
    assert again == []
    assert list(first) + list(second) == appended, "bytes, headers, path and signer kept"
    stats = await inbox.spool_stats()
    assert (stats.pending, stats.dead, stats.oldest_pending_at) == (5, 0, AT)


async def test_a_lease_that_runs_out_hands_the_delivery_to_the_next_claimer(
    inbox: EventInbox,
) -> None:
    await inbox.append(delivery(1))
    [held] = await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)

    assert (
        await inbox.claim_spooled(now=AT + LEASE - timedelta(seconds=1), limit=10, lease=LEASE)
        == []
    )
    [back] = await inbox.claim_spooled(now=AT + LEASE, limit=10, lease=LEASE)
    assert back.id == held.id


async def test_complete_stores_the_events_and_ends_the_delivery(
    inbox: EventInbox, event_store: EventStore
) -> None:
    one, two = delivery(1), delivery(2)
    for d in (one, two):
        await inbox.append(d)
    await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)

    answers = await inbox.complete(
        [(one, [event_of(one, "k1"), event_of(one, "k2")]), (two, [event_of(two, "k1")])],
        at=AT,
    )

    assert answers == [(True, True), (False,)], "a repeat across the batch is not new"
    assert await inbox.claim_spooled(now=AT + LEASE, limit=10, lease=LEASE) == []
    assert (await inbox.spool_stats()).pending == 0
    assert {e.dedupe_key for e in await event_store.scan()} == {"k1", "k2"}
    assert (await event_store.get_inbound(one.id)).body == one.body


async def test_failed_deliveries_are_kept_and_respooled_for_replay(inbox: EventInbox) -> None:
    bad, good = delivery(1), delivery(2)
    for d in (bad, good):
        await inbox.append(d)
    await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)
    await inbox.fail(bad.id, error="split_failed: ValueError", at=AT)
    await inbox.complete([(good, [])], at=AT)

    stats = await inbox.spool_stats()
    assert (stats.pending, stats.dead) == (0, 1)
    assert await inbox.respool(failed_only=True) == 1
    [back] = await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)
    assert back.id == bad.id
    await inbox.complete([(back, [])], at=AT)
    assert await inbox.respool(failed_only=False, received_after=AT + timedelta(seconds=2)) == 1


async def test_a_refused_member_of_a_group_commit_changes_no_other_answer(
    backend: Backend, inbox: EventInbox
) -> None:
    # PostgreSQL refuses a NUL character in a text column outright; SQLite and memory keep it.
    # Whatever the database refuses must concern that delivery alone.
    poisoned = attrs.evolve(delivery(3), integration_id="int_\x00refused")
    healthy = [delivery(n) for n in (4, 5, 6)]

    results = await asyncio.gather(
        *(inbox.append(d) for d in (healthy[0], poisoned, *healthy[1:])), return_exceptions=True
    )

    order = [healthy[0].id, poisoned.id, *(d.id for d in healthy[1:])]
    outcomes = dict(zip(order, results, strict=True))
    assert all(outcomes[d.id] is None for d in healthy), outcomes
    if backend.kind == "postgres":
        assert isinstance(outcomes[poisoned.id], InvalidInput), "refused, alone"
    else:
        assert outcomes[poisoned.id] is None
    claimed = {d.id for d in await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)}
    assert {d.id for d in healthy} <= claimed


async def claimed_delivery(inbox: EventInbox) -> InboundEvent:
    """Spool one delivery and claim it, as a splitter does before storing its events."""
    one = delivery(1)
    await inbox.append(one)
    await inbox.claim_spooled(now=AT, limit=10, lease=LEASE)
    return one


async def test_events_stored_held_are_claimed_by_nobody_until_their_lease_runs_out(
    inbox: EventInbox, event_store: EventStore
) -> None:
    one = await claimed_delivery(inbox)
    held = attrs.evolve(event_of(one, "held"), lease_token="token-1")
    loose = event_of(one, "loose")

    await inbox.complete([(one, [held, loose])], at=AT, held_until=SOON + LEASE)

    claimed = await event_store.claim_due(now=SOON, limit=10, lease=LEASE)
    assert [e.id for e in claimed] == [loose.id], "a held event is not claimed again"
    skipped = await event_store.settle(
        [Settlement.delivered(held.id, at=AT, lease_token="token-1")]
    )
    assert skipped == [], "the splitter settles with the token it stored"
    delivered = await event_store.get(TenantId("t1"), held.id)
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 1)


async def test_a_held_event_whose_splitter_died_is_claimed_once_the_lease_runs_out(
    inbox: EventInbox, event_store: EventStore
) -> None:
    one = await claimed_delivery(inbox)
    held = attrs.evolve(event_of(one, "held"), lease_token="token-1")
    await inbox.complete([(one, [held])], at=AT, held_until=SOON + LEASE)

    assert (
        await event_store.claim_due(now=SOON + LEASE - timedelta(seconds=1), limit=10, lease=LEASE)
        == []
    )
    [again] = await event_store.claim_due(now=SOON + LEASE, limit=10, lease=LEASE)
    assert again.id == held.id
    late = await event_store.settle([Settlement.delivered(held.id, at=AT, lease_token="token-1")])
    assert late == [held.id], "the dead splitter's token no longer settles it"


async def test_a_lease_token_without_held_until_is_not_stored(
    inbox: EventInbox, event_store: EventStore
) -> None:
    one = await claimed_delivery(inbox)
    event = attrs.evolve(event_of(one, "k"), lease_token="token-1")

    await inbox.complete([(one, [event])], at=AT)

    [claimed] = await event_store.claim_due(now=SOON, limit=10, lease=LEASE)
    assert claimed.id == event.id
    assert claimed.lease_token != "token-1"


async def test_a_delivery_whose_splitter_dies_every_time_is_given_up_as_failed(
    inbox: EventInbox,
) -> None:
    poison, healthy = delivery(1), delivery(2)
    await inbox.append(poison)
    now = AT
    for _ in range(MAX_SPLIT_CLAIMS):
        [claimed] = await inbox.claim_spooled(now=now, limit=1, lease=LEASE)
        assert claimed.id == poison.id
        now += LEASE  # the splitter died holding it: the lease runs out
    await inbox.append(healthy)

    [next_up] = await inbox.claim_spooled(now=now, limit=10, lease=LEASE)

    assert next_up.id == healthy.id
    stats = await inbox.spool_stats()
    assert (stats.pending, stats.dead) == (1, 1), "kept as failed, for replay --renormalize"
    assert await inbox.respool(failed_only=True) == 1
    again = await inbox.claim_spooled(now=now, limit=10, lease=LEASE)
    assert poison.id in [d.id for d in again], "a replay gives it a fresh count of claims"
