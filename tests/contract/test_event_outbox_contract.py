"""The EventStore contract, outbox side (claims, leases, attempts, replays), on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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
    [claimed] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    at = T0 + timedelta(seconds=2)

    skipped = await event_store.settle(
        [Settlement.delivered(event.id, at=at, lease_token=claimed.lease_token)]
    )

    stored = await event_store.get(ALICE, event.id)
    assert list(skipped) == []
    assert stored == attrs.evolve(
        event, status=DeliveryStatus.DELIVERED, attempts=1, delivered_at=at
    )
    assert stored.lease_token is None
    assert await event_store.claim_due(now=T0 + timedelta(days=1), limit=5, lease=LEASE) == []


async def test_settling_a_failure_schedules_a_retry_and_releases_the_lease(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    [claimed] = await event_store.claim_due(now=T0, limit=1, lease=timedelta(hours=1))
    retry_at = T0 + timedelta(seconds=5)

    await event_store.settle(
        [
            Settlement.failed(
                event.id,
                error="HTTP 503",
                retry_at=retry_at,
                at=T0,
                lease_token=claimed.lease_token,
            )
        ]
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
    claimed = await event_store.claim_due(now=T0, limit=5, lease=timedelta(hours=1))
    [token] = {record.lease_token for record in claimed}  # one claim, one token
    retry_at = T0 + timedelta(minutes=5)

    skipped = await event_store.settle(
        [
            Settlement.delivered(delivered.id, at=T0, lease_token=token),
            Settlement.failed("evt_unknown", error="x", retry_at=None, at=T0, lease_token=token),
            Settlement.failed(
                retried.id, error="HTTP 500", retry_at=retry_at, at=T0, lease_token=token
            ),
            Settlement.failed(dead.id, error="HTTP 410", retry_at=None, at=T0, lease_token=token),
        ]
    )

    stored = {e.id: await event_store.get(ALICE, e.id) for e in (delivered, retried, dead)}
    assert [(s.status, s.attempts, s.last_error) for s in stored.values()] == [
        (DeliveryStatus.DELIVERED, 1, None),
        (DeliveryStatus.PENDING, 1, "HTTP 500"),
        (DeliveryStatus.DEAD, 10, "HTTP 410"),
    ]
    assert list(skipped) == ["evt_unknown"]
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


async def test_payloads_with_a_lone_surrogate_or_a_nul_are_kept_as_sent(
    event_store: EventStore,
) -> None:
    # Both are valid JSON ("\ud83d", "\u0000"); PostgreSQL's jsonb would refuse them.
    odd = {"message": {"id": "m1", "text": "hi \ud83d and \x00 end", "tail": "\udc00"}}
    event = make_event(data=odd)
    await add_events(event_store, event)
    fixed = {"message": {"id": "m1", "text": "replayed \ud83d\x00"}}

    [claimed] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    again = await event_store.requeue(ALICE, event.id, at=T0, data=fixed)

    assert claimed.data == odd
    assert again.data == fixed
    assert (await event_store.get(ALICE, event.id)).data == fixed


async def test_requeue_releases_a_lease(event_store: EventStore) -> None:
    event = make_event()
    await add_events(event_store, event)
    await event_store.claim_due(now=T0, limit=1, lease=timedelta(hours=1))

    await event_store.requeue(ALICE, event.id, at=T0)

    assert [e.id for e in await event_store.claim_due(now=T0, limit=5, lease=LEASE)] == [event.id]


async def test_each_claim_hands_out_a_fresh_lease_token(event_store: EventStore) -> None:
    first, second, third = make_event(), make_event(), make_event()
    await add_events(event_store, first, second, third)

    batch = await event_store.claim_due(now=T0, limit=2, lease=LEASE)
    [later] = await event_store.claim_due(now=T0, limit=2, lease=LEASE)

    tokens = {record.lease_token for record in batch}
    assert len(tokens) == 1
    assert None not in tokens
    assert later.lease_token not in (None, *tokens)
    # The stored event says which claim holds it.
    assert (await event_store.get(ALICE, later.id)).lease_token == later.lease_token


async def test_a_settlement_without_the_claims_token_is_skipped(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    [claimed] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)

    skipped = await event_store.settle(
        [
            Settlement.delivered(event.id, at=T0),
            Settlement.delivered(event.id, at=T0, lease_token="not-the-claims-token"),
        ]
    )

    assert list(skipped) == [event.id, event.id]
    stored = await event_store.get(ALICE, event.id)
    assert (stored.status, stored.attempts, stored.lease_token) == (
        DeliveryStatus.PENDING,
        0,
        claimed.lease_token,
    )


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(
            lambda event_id, token: Settlement.delivered(event_id, at=T0, lease_token=token),
            id="delivered",
        ),
        pytest.param(
            lambda event_id, token: Settlement.failed(
                event_id, error="HTTP 410", retry_at=None, at=T0, lease_token=token
            ),
            id="dead",
        ),
        pytest.param(
            lambda event_id, token: Settlement.failed(
                event_id,
                error="HTTP 503",
                retry_at=T0 + timedelta(hours=1),
                at=T0,
                lease_token=token,
            ),
            id="retry",
        ),
    ],
)
async def test_a_replay_during_an_attempt_is_never_overwritten_by_that_attempt(
    event_store: EventStore, outcome: Callable[[str, str | None], Settlement]
) -> None:
    event = make_event()
    await add_events(event_store, event)
    [in_flight] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    fixed = {"message": {"id": "m1", "kind": "text", "text": "re-normalized"}}

    # The replay is answered 202 while the attempt with the old payload is still in flight.
    replayed = await event_store.requeue(ALICE, event.id, at=T0, data=fixed)
    skipped = await event_store.settle([outcome(event.id, in_flight.lease_token)])

    assert list(skipped) == [event.id]
    stored = await event_store.get(ALICE, event.id)
    assert stored == replayed
    assert (stored.status, stored.attempts, stored.data, stored.lease_token) == (
        DeliveryStatus.PENDING,
        0,
        fixed,
        None,
    )
    # The replay is delivered later, with its own claim and the new payload.
    [again] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    assert again.data == fixed
    assert again.lease_token not in (None, in_flight.lease_token)
    at = T0 + timedelta(seconds=1)
    assert (
        list(
            await event_store.settle(
                [Settlement.delivered(event.id, at=at, lease_token=again.lease_token)]
            )
        )
        == []
    )
    done = await event_store.get(ALICE, event.id)
    assert (done.status, done.attempts, done.data, done.delivered_at) == (
        DeliveryStatus.DELIVERED,
        1,
        fixed,
        at,
    )


async def test_an_attempt_whose_lease_ran_out_cannot_settle_the_newer_claim(
    event_store: EventStore,
) -> None:
    event = make_event()
    await add_events(event_store, event)
    [slow] = await event_store.claim_due(now=T0, limit=1, lease=LEASE)
    [newer] = await event_store.claim_due(now=T0 + LEASE, limit=1, lease=LEASE)
    retry_at = T0 + timedelta(minutes=5)

    # The slow worker gives up after the newer one delivered: the delivery stands.
    await event_store.settle(
        [Settlement.delivered(event.id, at=T0 + LEASE, lease_token=newer.lease_token)]
    )
    skipped = await event_store.settle(
        [
            Settlement.failed(
                event.id, error="timeout", retry_at=retry_at, at=T0, lease_token=slow.lease_token
            )
        ]
    )

    assert list(skipped) == [event.id]
    stored = await event_store.get(ALICE, event.id)
    assert (stored.status, stored.attempts, stored.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        None,
    )


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
