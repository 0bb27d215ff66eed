"""The forwarding worker loop over in-memory fakes: batching, waking, outages, shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import prometheus_client
import pytest

from integration_core.channels import Channel
from integration_core.errors import DeliveryFailed
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    EventType,
    NormalizedEvent,
    Settlement,
)
from integration_core.ids import TenantId, new_id
from integration_core.testing import FrozenClock, InMemoryEventStore, RecordingForwarder
from integration_core.use_cases.forwarding import ForwardEvents, RetryPolicy
from integration_service.forward_metrics import ForwardMetrics
from integration_service.wakeup import NotifyingEventStore, Wakeup
from integration_service.workers import Backoff, ForwardingWorker, Workers, refresh_outbox_gauges

TENANT = TenantId("acme")


def pending(clock: FrozenClock, **overrides: object) -> EventRecord:
    now = clock.now()
    values: dict[str, object] = {
        "id": new_id("evt"),
        "channel": Channel.WHATSAPP,
        "dedupe_key": new_id("wamid"),
        "type": EventType.MESSAGE_RECEIVED,
        "tenant_id": TENANT,
        "integration_id": "int_1",
        "next_attempt_at": now,
        "occurred_at": now,
        "received_at": now - timedelta(seconds=2),
        "data": {"message": {"id": "m"}},
    }
    values.update(overrides)
    return EventRecord(**values)  # type: ignore[arg-type]


class Harness:
    """A worker over fakes, with its registry, running in the background until stopped."""

    def __init__(self, *, batch_size: int = 10, poll: float = 30.0, fail_next: int = 0) -> None:
        self.clock = FrozenClock()
        self.store = InMemoryEventStore()
        self.forwarder = RecordingForwarder(fail_next=fail_next)
        self.registry = prometheus_client.CollectorRegistry()
        self.metrics = ForwardMetrics(registry=self.registry)
        self.wakeup = Wakeup()
        self.workers = Workers()
        self.workers.wake_on_stop(self.wakeup)
        self.batch_size = batch_size
        self.forward = ForwardEvents(
            events=self.store,
            forwarder=self.forwarder,
            clock=self.clock,
            policy=RetryPolicy(delays=(timedelta(0), timedelta(seconds=10)), jitter=0),
            batch_size=batch_size,
        )
        self.worker = ForwardingWorker(
            name="forward-test",
            forward=self.forward,
            batch_size=batch_size,
            poll_interval=poll,
            wakeup=self.wakeup,
            metrics=self.metrics,
        )

    def start(self) -> None:
        self.workers.start("forward-test", self.worker.run(self.workers.stopping))

    async def add(self, count: int) -> list[EventRecord]:
        records = [pending(self.clock) for _ in range(count)]
        await self.store.record(None, records)
        return records

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    made = Harness(batch_size=2)
    yield made
    await made.workers.stop(5)


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_full_batches_are_drained_at_once_without_waiting_for_the_poll(
    harness: Harness,
) -> None:
    await harness.add(5)  # batches of 2: full, full, then a short one

    harness.start()

    await eventually(lambda: len(harness.forwarder.delivered) == 5)
    assert harness.sample("integration_forward_attempts_total", outcome="delivered") == 5
    assert harness.sample("integration_forward_delivery_latency_seconds_count") == 5
    assert harness.sample("integration_forward_delivery_latency_seconds_sum") == pytest.approx(10)


async def test_an_idle_worker_sleeps_until_the_intake_rings(harness: Harness) -> None:
    harness.start()
    await asyncio.sleep(0.05)  # claims nothing, then sleeps for the 30 s poll interval
    intake_store = NotifyingEventStore(inner=harness.store, wakeup=harness.wakeup)

    await intake_store.record(None, [pending(harness.clock)])

    await eventually(lambda: len(harness.forwarder.delivered) == 1, within=1)


async def test_without_a_ring_the_poll_interval_finds_new_events() -> None:
    harness = Harness(poll=0.05)
    harness.start()
    await asyncio.sleep(0.02)

    await harness.add(1)  # behind the wakeup's back, as another process would

    await eventually(lambda: len(harness.forwarder.delivered) == 1, within=1)
    await harness.workers.stop(1)


async def test_retries_and_dead_letters_are_counted() -> None:
    harness = Harness(fail_next=3)
    first, second = await harness.add(2)
    harness.start()
    await eventually(lambda: harness.forwarder.attempts == 2)

    harness.clock.advance(seconds=11)
    harness.wakeup.ring()

    await eventually(
        lambda: harness.sample("integration_forward_attempts_total", outcome="dead") == 1
    )
    assert harness.sample("integration_forward_attempts_total", outcome="retry") == 2
    await eventually(
        lambda: harness.sample("integration_forward_attempts_total", outcome="delivered") == 1
    )
    statuses = {(await harness.store.get(TENANT, e.id)).status for e in (first, second)}
    assert statuses == {DeliveryStatus.DEAD, DeliveryStatus.DELIVERED}
    await harness.workers.stop(1)


async def test_the_worker_rides_out_a_database_outage(harness: Harness) -> None:
    harness.store.available = False
    harness.start()
    await asyncio.sleep(0.05)
    assert not harness.workers.stopping.is_set()

    await asyncio.sleep(0.6)  # past the first backoff: the loop must still be alive
    harness.store.available = True
    await harness.add(1)
    harness.wakeup.ring()

    await eventually(lambda: len(harness.forwarder.delivered) == 1, within=3)


async def test_stopping_an_idle_worker_is_immediate(harness: Harness) -> None:
    harness.start()
    await asyncio.sleep(0.02)

    started = time.monotonic()
    await harness.workers.stop(5)

    assert time.monotonic() - started < 0.5, "the 30 s poll interval did not delay shutdown"


class GatedForwarder:
    """Hold every delivery until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.delivered: list[NormalizedEvent] = []

    async def forward(self, event: NormalizedEvent) -> None:
        self.entered.set()
        await self.gate.wait()
        self.delivered.append(event)


async def _worker_with(forwarder: GatedForwarder) -> tuple[Harness, Workers]:
    harness = Harness()
    harness.worker = ForwardingWorker(
        name="gated",
        forward=ForwardEvents(events=harness.store, forwarder=forwarder, clock=harness.clock),
        batch_size=10,
        poll_interval=30,
        wakeup=harness.wakeup,
        metrics=harness.metrics,
    )
    await harness.add(1)
    harness.start()
    await asyncio.wait_for(forwarder.entered.wait(), 2)
    return harness, harness.workers


async def test_shutdown_lets_the_batch_in_hand_finish() -> None:
    forwarder = GatedForwarder()
    harness, workers = await _worker_with(forwarder)

    stopping = asyncio.create_task(workers.stop(5))
    await asyncio.sleep(0.05)
    assert not stopping.done(), "it waits for the delivery in flight"
    forwarder.gate.set()
    await stopping

    (event,) = forwarder.delivered
    assert (await harness.store.get(TENANT, event.id)).status is DeliveryStatus.DELIVERED


async def test_shutdown_cancels_a_batch_that_outlasts_the_deadline() -> None:
    forwarder = GatedForwarder()
    harness, workers = await _worker_with(forwarder)

    await workers.stop(0.05)

    assert not forwarder.delivered
    page = await harness.store.list(TENANT)
    assert [e.status for e in page.items] == [DeliveryStatus.PENDING], "its lease brings it back"


async def test_the_outbox_gauges_follow_the_store() -> None:
    harness = Harness()
    await harness.add(3)
    dead = pending(harness.clock, received_at=harness.clock.now() - timedelta(minutes=5))
    await harness.store.record(None, [dead])
    await harness.store.settle(
        [Settlement.failed(dead.id, error="x", retry_at=None, at=harness.clock.now())]
    )
    stop = asyncio.Event()

    task = asyncio.create_task(
        refresh_outbox_gauges(
            events=harness.store, metrics=harness.metrics, clock=harness.clock, stop=stop
        )
    )
    await eventually(lambda: harness.sample("integration_outbox_pending") == 3)
    stop.set()
    await asyncio.wait_for(task, 1)

    assert harness.sample("integration_outbox_dead") == 1
    assert harness.sample("integration_outbox_oldest_pending_age_seconds") == 2


async def test_the_gauges_keep_going_while_the_store_is_down() -> None:
    harness = Harness()
    harness.store.available = False
    stop = asyncio.Event()
    task = asyncio.create_task(
        refresh_outbox_gauges(
            events=harness.store,
            metrics=harness.metrics,
            clock=harness.clock,
            stop=stop,
            interval=0.01,
        )
    )
    await asyncio.sleep(0.05)
    harness.store.available = True
    await harness.add(2)

    await eventually(lambda: harness.sample("integration_outbox_pending") == 2)
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_a_failing_task_is_reported_at_stop_not_raised() -> None:
    workers = Workers()

    async def broken() -> None:
        raise DeliveryFailed("boom")

    workers.start("broken", broken())
    await asyncio.sleep(0)
    await workers.stop(1)  # logs it; shutdown goes on


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(first=0.5, maximum=2)

    assert [backoff.failed() for _ in range(4)] == [0.5, 1, 2, 2]
    backoff.succeeded()
    assert backoff.failed() == 0.5
