"""Forwarding retries on the schedule, keeps the event id, and dead-letters at the end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.channels import Channel
from integration_core.errors import EventUnserializable
from integration_core.events import DeliveryStatus, EventRecord, EventType, NormalizedEvent
from integration_core.ids import TenantId, new_id
from integration_core.testing import FrozenClock, InMemoryEventStore, RecordingForwarder
from integration_core.use_cases.forwarding import (
    DEFAULT_SCHEDULE,
    ForwardEvents,
    Outcome,
    RetryPolicy,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)
T1 = TenantId("t1")


def _record(n: int, *, routed: bool = True) -> EventRecord:
    return EventRecord(
        id=new_id("evt", now_ms=n),
        channel=Channel.WHATSAPP,
        dedupe_key=f"wamid.{n}",
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=T1 if routed else None,
        integration_id="int_1" if routed else None,
        occurred_at=AT,
        received_at=AT,
        data={"message": {"id": f"wamid.{n}"}},
    )


def test_default_schedule_is_the_contracts() -> None:
    assert [int(d.total_seconds()) for d in DEFAULT_SCHEDULE] == [
        0,
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        50400,
        72000,
        86400,
    ]


@given(st.integers(0, 20), st.integers(0, 2**32))
def test_retry_at_stays_within_jitter(attempts: int, seed: int) -> None:
    policy = RetryPolicy()
    when = policy.retry_at(attempts, now=AT, rng=random.Random(seed))
    if attempts >= policy.max_attempts:
        assert when is None
    else:
        assert when is not None
        delay = DEFAULT_SCHEDULE[attempts]
        assert abs((when - AT) - delay) <= delay * 0.1


@pytest.mark.parametrize(
    "kwargs", [{"delays": ()}, {"delays": (timedelta(seconds=-1),)}, {"jitter": 1.0}]
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_flaky_service_gets_the_same_event_id_after_recovering() -> None:
    clock = FrozenClock(AT)
    store = InMemoryEventStore()
    forwarder = RecordingForwarder(fail_next=2)
    policy = RetryPolicy(jitter=0)
    use_case = ForwardEvents(events=store, forwarder=forwarder, clock=clock, policy=policy)
    record = _record(1)
    await store.record(None, [record])

    assert [a.outcome for a in await use_case.run_once()] == [Outcome.RETRY]
    assert await use_case.run_once() == []  # not due for 5 s
    clock.advance(seconds=5)
    assert [a.outcome for a in await use_case.run_once()] == [Outcome.RETRY]
    clock.advance(minutes=5)
    attempts = await use_case.run_once()
    assert [a.outcome for a in attempts] == [Outcome.DELIVERED]
    assert attempts[0].latency == timedelta(minutes=5, seconds=5)
    assert [e.id for e in forwarder.delivered] == [record.id]
    stored = await store.get(T1, record.id)
    assert stored.status is DeliveryStatus.DELIVERED
    assert stored.attempts == 3
    assert stored.last_error == "the messaging service answered 503"


async def test_dead_lettered_after_the_last_attempt() -> None:
    clock = FrozenClock(AT)
    store = InMemoryEventStore()
    policy = RetryPolicy(delays=(timedelta(0), timedelta(seconds=1)), jitter=0)
    forwarder = RecordingForwarder(fail_next=10)
    use_case = ForwardEvents(events=store, forwarder=forwarder, clock=clock, policy=policy)
    await store.record(None, [_record(1)])
    assert [a.outcome for a in await use_case.run_once()] == [Outcome.RETRY]
    clock.advance(seconds=1)
    assert [a.outcome for a in await use_case.run_once()] == [Outcome.DEAD]
    clock.advance(days=2)
    assert await use_case.run_once() == []
    assert (await store.stats()).dead == 1


async def test_unrouted_pending_event_goes_dead_at_once() -> None:
    store = InMemoryEventStore()
    use_case = ForwardEvents(events=store, forwarder=RecordingForwarder(), clock=FrozenClock(AT))
    await store.record(None, [_record(1, routed=False)])
    assert [a.outcome for a in await use_case.run_once()] == [Outcome.DEAD]


async def test_a_batch_is_delivered_in_claim_order_and_leased() -> None:
    clock = FrozenClock(AT)
    store = InMemoryEventStore()
    forwarder = RecordingForwarder()
    use_case = ForwardEvents(
        events=store, forwarder=forwarder, clock=clock, batch_size=3, concurrency=2
    )
    await store.record(None, [_record(n) for n in range(5)])
    assert len(await use_case.run_once()) == 3
    assert len(await use_case.run_once()) == 2
    assert len(forwarder.delivered) == 5
    assert (await store.stats()).pending == 0


class ReplayingForwarder(RecordingForwarder):
    """Deliver, but let a replay with new data be answered while the first attempt is in flight."""

    def __init__(self, store: InMemoryEventStore, data: dict[str, object]) -> None:
        super().__init__()
        self._store = store
        self._data = data
        self.replayed = False

    async def forward(self, event: NormalizedEvent) -> None:
        if not self.replayed:
            self.replayed = True
            await self._store.requeue(event.tenant_id, event.id, at=AT, data=self._data)
        await super().forward(event)


async def test_an_attempt_overtaken_by_a_replay_is_stale_and_the_replay_is_delivered() -> None:
    store = InMemoryEventStore()
    fixed = {"message": {"id": "wamid.1", "text": "re-normalized"}}
    forwarder = ReplayingForwarder(store, fixed)
    use_case = ForwardEvents(events=store, forwarder=forwarder, clock=FrozenClock(AT))
    record = _record(1)
    await store.record(None, [record])

    [first] = await use_case.run_once()

    assert (first.outcome, first.latency) == (Outcome.STALE, None)
    stored = await store.get(T1, record.id)
    assert (stored.status, stored.attempts, stored.data) == (DeliveryStatus.PENDING, 0, fixed)
    [second] = await use_case.run_once()
    assert second.outcome is Outcome.DELIVERED
    assert [e.data for e in forwarder.delivered] == [record.data, fixed]
    done = await store.get(T1, record.id)
    assert (done.status, done.attempts, done.data) == (DeliveryStatus.DELIVERED, 1, fixed)


class PoisonedForwarder(RecordingForwarder):
    """Fail the events whose text says so, the way an adapter or a bug in one would."""

    async def forward(self, event: NormalizedEvent) -> None:
        text = event.data["message"].get("text")
        if text == "unserializable":
            raise EventUnserializable("unserializable: the payload is nested too deep")
        if text == "bug":
            raise RuntimeError("a bug in the adapter, quoting the payload: bug")
        await super().forward(event)


async def test_one_poisoned_event_never_holds_up_its_batch() -> None:
    store = InMemoryEventStore()
    forwarder = PoisonedForwarder()
    use_case = ForwardEvents(events=store, forwarder=forwarder, clock=FrozenClock(AT))
    records = [_record(n) for n in range(4)]
    records[1] = attrs.evolve(records[1], data={"message": {"id": "m", "text": "unserializable"}})
    records[2] = attrs.evolve(records[2], data={"message": {"id": "m", "text": "bug"}})
    await store.record(None, records)

    attempts = await use_case.run_once()

    assert [(a.event_id, a.outcome) for a in attempts] == [
        (records[0].id, Outcome.DELIVERED),
        (records[1].id, Outcome.DEAD),  # at once: a retry would fail the same way
        (records[2].id, Outcome.RETRY),  # unexpected: retried on the schedule
        (records[3].id, Outcome.DELIVERED),
    ]
    assert [e.id for e in forwarder.delivered] == [records[0].id, records[3].id]
    stored = [await store.get(T1, r.id) for r in records]
    assert [(s.status, s.attempts, s.last_error) for s in stored] == [
        (DeliveryStatus.DELIVERED, 1, None),
        (DeliveryStatus.DEAD, 1, "unserializable: the payload is nested too deep"),
        (DeliveryStatus.PENDING, 1, "unexpected error: RuntimeError"),
        (DeliveryStatus.DELIVERED, 1, None),
    ]
