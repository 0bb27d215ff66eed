"""The EventStore contract, inbox side (recording, deduplication, listing), on every backend."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from integration_core.channels import Channel
from integration_core.errors import InvalidInput, NotFound, StorageUnavailable
from integration_core.events import DeliveryStatus, EventRecord, QueueStats
from integration_core.ids import new_id
from integration_core.paging import MAX_LIMIT
from integration_core.ports import EventStore
from integration_core.testing.strategies import event_records

from .event_builders import ALICE, BOB, LEASE, T0, add_events, make_event, make_inbound

# --------------------------------------------------------------------------- inbox


async def test_a_new_event_is_stored_and_scoped_to_its_tenant(event_store: EventStore) -> None:
    event = make_event()

    assert await event_store.record(None, [event]) == (True,)

    assert await event_store.get(ALICE, event.id) == event
    with pytest.raises(NotFound):
        await event_store.get(BOB, event.id)
    with pytest.raises(NotFound):
        await event_store.get(ALICE, "evt_unknown")


async def test_a_repeat_is_reported_and_leaves_the_stored_event_untouched(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    repeat = make_event(dedupe_key=event.dedupe_key, data={"other": 1}, tenant_id=BOB)

    assert await event_store.record(None, [repeat]) == (False,)

    assert await event_store.get(ALICE, event.id) == event
    with pytest.raises(NotFound):
        await event_store.get(BOB, repeat.id)


async def test_a_repeated_id_is_a_repeat(event_store: EventStore) -> None:
    event = make_event()
    await add_events(event_store, event)

    assert await event_store.record(None, [make_event(id=event.id)]) == (False,)
    assert await event_store.get(ALICE, event.id) == event


async def test_the_same_dedupe_key_on_another_channel_is_a_new_event(
    event_store: EventStore,
) -> None:
    event = make_event()
    other = make_event(channel=Channel.MESSENGER, dedupe_key=event.dedupe_key)

    assert await event_store.record(None, [event, other]) == (True, True)
    assert await event_store.get(ALICE, other.id) == other


async def test_repeats_inside_one_batch_count_once(event_store: EventStore) -> None:
    first = make_event()
    same_key = make_event(dedupe_key=first.dedupe_key)
    fresh = make_event()

    outcome = await event_store.record(None, [first, same_key, fresh, first])

    assert outcome == (True, False, True, False)
    assert await event_store.get(ALICE, first.id) == first
    assert await event_store.get(ALICE, fresh.id) == fresh


async def test_the_inbound_delivery_is_stored_with_its_events(event_store: EventStore) -> None:
    inbound = make_inbound()
    event = make_event(inbound_id=inbound.id)

    assert await event_store.record(inbound, [event]) == (True,)
    # A redelivery of the same raw request keeps the first copy and reports the repeat.
    again = make_inbound(id=inbound.id, body=b"changed")
    assert await event_store.record(again, [make_event(dedupe_key=event.dedupe_key)]) == (False,)

    assert await event_store.get_inbound(inbound.id) == inbound
    assert (await event_store.get(ALICE, event.id)).inbound_id == inbound.id
    with pytest.raises(NotFound):
        await event_store.get_inbound("inb_unknown")


async def test_an_inbound_delivery_without_events_is_stored(event_store: EventStore) -> None:
    inbound = make_inbound()

    assert await event_store.record(inbound, []) == ()
    assert await event_store.get_inbound(inbound.id) == inbound


async def test_platform_content_is_stored_verbatim_even_with_nul_characters(
    event_store: EventStore,
) -> None:
    # JSON allows "\u0000" and platforms relay what users type; losing the event is worse.
    inbound = make_inbound(query={"q": "a\x00b"})
    event = make_event(inbound_id=inbound.id, data={"text": "nul\x00here", "k\x00": [1]})

    assert await event_store.record(inbound, [event]) == (True,)

    assert await event_store.get(ALICE, event.id) == event
    assert await event_store.get_inbound(inbound.id) == inbound


async def test_an_unrouted_event_is_stored_without_a_tenant(event_store: EventStore) -> None:
    event = make_event(tenant_id=None, integration_id=None, status=DeliveryStatus.IGNORED)
    await add_events(event_store, event)

    stats = await event_store.stats()

    assert stats == QueueStats(pending=0, dead=0, oldest_pending_at=None)


async def test_concurrent_records_of_one_event_store_it_exactly_once(
    event_store: EventStore, event_store_replica: EventStore
) -> None:
    key = f"wamid.{uuid.uuid4().hex}"
    copies = [make_event(dedupe_key=key) for _ in range(16)]
    # Half through each replica: SQL stores use separate pools and connections.
    stores = [event_store, event_store_replica] * 8

    outcomes = await asyncio.gather(
        *(store.record(make_inbound(), [copy]) for store, copy in zip(stores, copies, strict=True))
    )

    assert sorted(o for (o,) in outcomes) == [False] * 15 + [True]
    winner = copies[[o for (o,) in outcomes].index(True)]
    assert await event_store.get(ALICE, winner.id) == winner


async def test_concurrent_overlapping_batches_do_not_deadlock(
    event_store: EventStore, event_store_replica: EventStore
) -> None:
    shared = [make_event() for _ in range(20)]
    batches = [
        [*shared, make_event()],
        [*reversed(shared), make_event()],
        [make_event(), *shared[::2], *shared[1::2]],
    ]

    outcomes = await asyncio.gather(
        *(
            store.record(None, batch)
            for store, batch in zip(
                [event_store, event_store_replica, event_store], batches, strict=True
            )
        )
    )

    new = [
        event
        for batch, out in zip(batches, outcomes, strict=True)
        for event, o in zip(batch, out, strict=True)
        if o
    ]
    assert len(new) == 23
    assert {e.dedupe_key for e in new} == {e.dedupe_key for batch in batches for e in batch}


# --------------------------------------------------------------------------- listing


async def test_list_returns_the_tenants_events_newest_first_with_filters(
    event_store: EventStore,
) -> None:
    wa_old = make_event(id="evt_01", received_at=T0 - timedelta(hours=2))
    wa_dead = make_event(
        id="evt_02", received_at=T0 - timedelta(hours=1), status=DeliveryStatus.DEAD
    )
    tg = make_event(id="evt_03", channel=Channel.TELEGRAM, received_at=T0)
    bobs = make_event(id="evt_04", tenant_id=BOB)
    await add_events(event_store, wa_old, tg, bobs, wa_dead)

    async def ids(**filters: Any) -> list[str]:
        return [e.id for e in (await event_store.list(ALICE, **filters)).items]

    assert await ids() == ["evt_03", "evt_02", "evt_01"]
    assert await ids(status=DeliveryStatus.DEAD) == ["evt_02"]
    assert await ids(status=DeliveryStatus.PENDING, channel=Channel.WHATSAPP) == ["evt_01"]
    assert await ids(channel=Channel.TELEGRAM) == ["evt_03"]
    # received_after is inclusive, received_before exclusive.
    assert await ids(received_after=T0 - timedelta(hours=1)) == ["evt_03", "evt_02"]
    assert await ids(received_before=T0 - timedelta(hours=1)) == ["evt_01"]
    assert await ids(received_after=T0 + timedelta(microseconds=1)) == []
    page = await event_store.list(ALICE)
    assert page.items[0] == tg
    assert page.next_cursor is None


async def test_cursor_paging_visits_every_event_exactly_once(event_store: EventStore) -> None:
    events = [make_event() for _ in range(23)]
    await add_events(event_store, *events)
    await add_events(event_store, make_event(tenant_id=BOB))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await event_store.list(ALICE, limit=5, cursor=cursor)
        seen.extend(e.id for e in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert pages == 5
    assert seen == sorted((e.id for e in events), reverse=True)


async def test_a_full_last_page_has_no_next_cursor(event_store: EventStore) -> None:
    await add_events(event_store, *(make_event() for _ in range(4)))

    first = await event_store.list(ALICE, limit=2)
    assert first.next_cursor is not None
    second = await event_store.list(ALICE, limit=2, cursor=first.next_cursor)

    assert len(second.items) == 2
    assert second.next_cursor is None


@pytest.mark.parametrize("cursor", ["not a cursor!", "djI6eA", "eHg"])
async def test_a_bad_cursor_is_invalid_input(event_store: EventStore, cursor: str) -> None:
    with pytest.raises(InvalidInput):
        await event_store.list(ALICE, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
async def test_a_limit_out_of_bounds_is_invalid_input(event_store: EventStore, limit: int) -> None:
    with pytest.raises(InvalidInput):
        await event_store.list(ALICE, limit=limit)


async def test_the_largest_limit_is_accepted(event_store: EventStore) -> None:
    await add_events(event_store, make_event())

    assert len((await event_store.list(ALICE, limit=MAX_LIMIT)).items) == 1


# --------------------------------------------------------------------------- failures, properties


async def test_an_unreachable_database_raises_storage_unavailable(
    unreachable_event_store: EventStore,
) -> None:
    store = unreachable_event_store
    with pytest.raises(StorageUnavailable):
        await store.record(make_inbound(), [make_event()])
    with pytest.raises(StorageUnavailable):
        await store.claim_due(now=T0, limit=5, lease=LEASE)
    with pytest.raises(StorageUnavailable):
        await store.list(ALICE)
    with pytest.raises(StorageUnavailable):
        await store.stats()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=event_records())
async def test_any_event_round_trips(event_store: EventStore, drawn: EventRecord) -> None:
    # Examples share the store: give each a fresh id and dedupe key.
    event = attrs.evolve(
        drawn, id=new_id("evt"), dedupe_key=f"{drawn.dedupe_key}-{uuid.uuid4().hex}"
    )

    assert await event_store.record(None, [event]) == (True,)

    assert event.tenant_id is not None
    assert await event_store.get(event.tenant_id, event.id) == event
