"""The EventStore contract, outbox side (claims, leases, attempts, replays), on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from integration_core.errors import NotFound
from integration_core.events import DeliveryStatus, QueueStats, Settlement
from integration_core.ports import EventStore

from .event_builders import ALICE, BOB, LEASE, T0, add_events, make_event


async def test_claim_due_takes_due_pending_events_oldest_first(event_store: EventStore) -> None:
    retry_soon = make_event(received_at=T0 - timedelta(hours=1), next_attempt_at=T0)
    oldest = make_event(received_at=T0 - timedelta(minutes=30))
    newer = make_event(received_at=T0 - timedelta(minutes=10))
    later = make_event(next_attempt_at=T0 + timedelta(minutes=1))
    done = [
        make_event(received_at=T0 - timedelta(days=1), status=status)
        for status in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD, DeliveryStatus.IGNORED)
    ]
    await add_events(event_store, newer, later, retry_soon, oldest, *done)

    claimed = await event_store.claim_due(now=T0, limit=10, lease=LEASE)

    # Ordered by when each became due (next attempt, else receipt).
    assert [e.id for e in claimed] == [oldest.id, newer.id, retry_soon.id]
    assert claimed[0] == oldest


async def test_claim_due_orders_ties_by_id_and_respects_the_limit(
    event_store: EventStore,
) -> None:
    events = [make_event(id=f"evt_{i:02d}") for i in range(5)]
    await add_events(event_store, *reversed(events))

    first = await event_store.claim_due(now=T0, limit=2, lease=LEASE)
    second = await event_store.claim_due(now=T0, limit=2, lease=LEASE)
    third = await event_store.claim_due(now=T0, limit=2, lease=LEASE)

    assert [[e.id for e in batch] for batch in (first, second, third)] == [
        ["evt_00", "evt_01"],
        ["evt_02", "evt_03"],
        ["evt_04"],
    ]
    assert await event_store.claim_due(now=T0, limit=0, lease=LEASE) == []


async def test_a_claimed_event_is_leased_until_the_lease_runs_out(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)

    assert [e.id for e in await event_store.claim_due(now=T0, limit=5, lease=LEASE)] == [event.id]
    almost = T0 + LEASE - timedelta(milliseconds=1)
    assert await event_store.claim_due(now=almost, limit=5, lease=LEASE) == []
    # A crashed worker's event comes back when its lease expires.
    reclaimed = await event_store.claim_due(now=T0 + LEASE, limit=5, lease=LEASE)
    assert [e.id for e in reclaimed] == [event.id]


async def test_concurrent_claimers_never_share_an_event(
    event_store: EventStore, event_store_replica: EventStore
) -> None:
    events = [make_event(received_at=T0 - timedelta(seconds=i)) for i in range(40)]
    await add_events(event_store, *events)

    async def drain(store: EventStore) -> list[str]:
        taken: list[str] = []
        while batch := await store.claim_due(now=T0, limit=3, lease=LEASE):
            taken.extend(e.id for e in batch)
            await asyncio.sleep(0)
        return taken

    results = await asyncio.gather(
        drain(event_store), drain(event_store), drain(event_store_replica)
    )

    taken = [event_id for result in results for event_id in result]
    assert sorted(taken) == sorted(e.id for e in events)


async def test_settling_a_delivery_counts_the_attempt_and_ends_delivery(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    at = T0 + timedelta(seconds=2)

    await event_store.settle([Settlement.delivered(event.id, at=at)])

    stored = await event_store.get(ALICE, event.id)
    assert stored == attrs.evolve(
        event, status=DeliveryStatus.DELIVERED, attempts=1, delivered_at=at
    )
    assert await event_store.claim_due(now=T0 + timedelta(days=1), limit=5, lease=LEASE) == []


async def test_settling_a_failure_schedules_a_retry_and_releases_the_lease(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.claim_due(now=T0, limit=1, lease=timedelta(hours=1))
    retry_at = T0 + timedelta(seconds=5)

    await event_store.settle(
        [Settlement.failed(event.id, error="HTTP 503", retry_at=retry_at, at=T0)]
    )

    stored = await event_store.get(ALICE, event.id)
    assert stored == attrs.evolve(
        event, attempts=1, last_error="HTTP 503", next_attempt_at=retry_at
    )
    assert (
        await event_store.claim_due(now=retry_at - timedelta(seconds=1), limit=5, lease=LEASE) == []
    )
    # Due again at retry_at although the first lease (one hour) has not run out.
    assert [e.id for e in await event_store.claim_due(now=retry_at, limit=5, lease=LEASE)] == [
        event.id
    ]


async def test_settling_a_failure_without_a_retry_dead_letters_the_event(
    event_store: EventStore,
) -> None:
    event = make_event(attempts=9)
    await add_events(event_store, event)

    await event_store.settle([Settlement.failed(event.id, error="gave up", retry_at=None, at=T0)])

    stored = await event_store.get(ALICE, event.id)
    assert (stored.status, stored.attempts, stored.last_error) == (
        DeliveryStatus.DEAD,
        10,
        "gave up",
    )
    assert stored.next_attempt_at is None
    assert await event_store.claim_due(now=T0 + timedelta(days=1), limit=5, lease=LEASE) == []


async def test_settle_records_a_whole_batch_and_skips_unknown_ids(
    event_store: EventStore,
) -> None:
    delivered, retried, dead = make_event(), make_event(), make_event(attempts=9)
    await add_events(event_store, delivered, retried, dead)
    await event_store.claim_due(now=T0, limit=5, lease=timedelta(hours=1))
    retry_at = T0 + timedelta(minutes=5)

    await event_store.settle(
        [
            Settlement.delivered(delivered.id, at=T0),
            Settlement.failed("evt_unknown", error="x", retry_at=None, at=T0),
            Settlement.failed(retried.id, error="HTTP 500", retry_at=retry_at, at=T0),
            Settlement.failed(dead.id, error="HTTP 410", retry_at=None, at=T0),
        ]
    )

    stored = {e.id: await event_store.get(ALICE, e.id) for e in (delivered, retried, dead)}
    assert [(s.status, s.attempts, s.last_error) for s in stored.values()] == [
        (DeliveryStatus.DELIVERED, 1, None),
        (DeliveryStatus.PENDING, 1, "HTTP 500"),
        (DeliveryStatus.DEAD, 10, "HTTP 410"),
    ]
    assert stored[delivered.id].delivered_at == T0
    # Every lease is released: the retried event is due at retry_at, not after the hour.
    assert [e.id for e in await event_store.claim_due(now=retry_at, limit=5, lease=LEASE)] == [
        retried.id
    ]
    await event_store.settle([])


async def test_requeue_delivers_the_same_event_again(event_store: EventStore) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.settle([Settlement.delivered(event.id, at=T0)])
    at = T0 + timedelta(hours=1)

    with pytest.raises(NotFound):
        await event_store.requeue(BOB, event.id, at=at)
    again = await event_store.requeue(ALICE, event.id, at=at)

    expected = attrs.evolve(event, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=at)
    assert again == expected
    assert await event_store.get(ALICE, event.id) == expected
    assert [e.id for e in await event_store.claim_due(now=at, limit=5, lease=LEASE)] == [event.id]


async def test_requeue_can_replace_the_payload(event_store: EventStore) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.settle([Settlement.failed(event.id, error="boom", retry_at=None, at=T0)])
    fixed = {"message": {"id": "m-1", "kind": "text", "text": "re-normalized \u00e9"}}

    again = await event_store.requeue(ALICE, event.id, at=T0, data=fixed)

    assert again.data == fixed
    assert again.status is DeliveryStatus.PENDING
    assert (await event_store.get(ALICE, event.id)).data == fixed


async def test_requeue_releases_a_lease(event_store: EventStore) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.claim_due(now=T0, limit=1, lease=timedelta(hours=1))

    await event_store.requeue(ALICE, event.id, at=T0)

    assert [e.id for e in await event_store.claim_due(now=T0, limit=5, lease=LEASE)] == [event.id]


async def test_stats_count_pending_and_dead_events(event_store: EventStore) -> None:
    assert await event_store.stats() == QueueStats(pending=0, dead=0, oldest_pending_at=None)
    oldest = T0 - timedelta(minutes=7, milliseconds=5)
    await add_events(
        event_store,
        make_event(received_at=T0),
        make_event(received_at=oldest, tenant_id=BOB),
        make_event(received_at=oldest - timedelta(days=1), status=DeliveryStatus.DEAD),
        make_event(received_at=oldest - timedelta(days=1), status=DeliveryStatus.DELIVERED),
    )

    stats = await event_store.stats()

    assert stats == QueueStats(pending=2, dead=1, oldest_pending_at=oldest)
    assert stats.oldest_pending_at is not None
    assert stats.oldest_pending_at.utcoffset() == timedelta(0)
