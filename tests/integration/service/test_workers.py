"""The forwarding worker loop over in-memory fakes: batching, waking, outages, shutdown.

At the end, over memory, SQLite and PostgreSQL with the real HTTP forwarder: a poisoned event
never holds up its batch.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import prometheus_client
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook
from structlog.testing import capture_logs

from adapters_db import SqlEventStore
from adapters_observability.forward_metrics import ForwardMetrics
from adapters_platforms.messaging import HttpMessageForwarder
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import DeliveryFailed
from integration_core.events import (
    DeliveryStatus,
    EventRecord,
    EventType,
    NormalizedEvent,
    Settlement,
)
from integration_core.ids import TenantId, new_id
from integration_core.ports import EventStore
from integration_core.testing import FrozenClock, InMemoryEventStore, RecordingForwarder
from integration_core.use_cases.forwarding import ForwardEvents, Outcome, RetryPolicy
from integration_service.loops import Backoff, Wakeup
from integration_service.workers import ForwardingWorker, Workers, refresh_outbox_gauges

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
    harness.store.on_queued = harness.wakeup.ring  # as the container gives it

    await harness.store.record(None, [pending(harness.clock)])

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


class ReplayMidAttempt(RecordingForwarder):
    """Deliver, but replay each event once with new data while its first attempt is in flight."""

    def __init__(self, store: InMemoryEventStore) -> None:
        super().__init__()
        self._store = store
        self._replayed: set[str] = set()

    async def forward(self, event: NormalizedEvent) -> None:
        if event.id not in self._replayed:
            self._replayed.add(event.id)
            await self._store.requeue(
                event.tenant_id, event.id, at=event.received_at, data={"message": {"id": "new"}}
            )
        await super().forward(event)


async def test_an_attempt_overtaken_by_a_replay_is_counted_and_logged_as_stale() -> None:
    harness = Harness()
    forwarder = ReplayMidAttempt(harness.store)
    harness.worker = ForwardingWorker(
        name="stale",
        forward=ForwardEvents(events=harness.store, forwarder=forwarder, clock=harness.clock),
        batch_size=10,
        poll_interval=30,
        wakeup=harness.wakeup,
        metrics=harness.metrics,
    )
    [event] = await harness.add(1)

    with capture_logs() as logs:
        harness.start()
        await eventually(
            lambda: harness.sample("integration_forward_attempts_total", outcome="stale") == 1
        )
        harness.wakeup.ring()  # the replay is due: deliver it
        await eventually(
            lambda: harness.sample("integration_forward_attempts_total", outcome="delivered") == 1
        )
        await harness.workers.stop(1)

    assert [e.data for e in forwarder.delivered] == [event.data, {"message": {"id": "new"}}]
    stored = await harness.store.get(TENANT, event.id)
    assert (stored.status, stored.data) == (DeliveryStatus.DELIVERED, {"message": {"id": "new"}})
    [line] = [e for e in logs if e["event"] == "forwarding_attempts_stale"]
    assert (line["count"], line["events"]) == (1, [event.id])


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


# --------------------------------------------------------------------------- poison, per backend

SIGNING_SECRET = "whsec_" + base64.b64encode(b"p" * 32).decode()


def _nested(depth: int) -> dict[str, object]:
    """Return a JSON object *depth* levels deep: valid, storable, too deep to serialize back."""
    inner: dict[str, object] = {"text": "deep"}
    for _ in range(depth):
        inner = {"k": inner}
    return inner


class VerifyingSink:
    """A messaging service that verifies each delivery like a real receiver, and keeps it."""

    def __init__(self) -> None:
        self.received: dict[str, Any] = {}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        body.decode("utf-8")  # strict: a receiver must be able to read it as UTF-8
        payload = Webhook(SIGNING_SECRET).verify(body, dict(request.headers))
        self.received[payload["id"]] = payload
        return web.Response(status=204)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def event_store(request: pytest.FixtureRequest) -> EventStore:
    """Return an empty event store in memory, then on SQLite and PostgreSQL."""
    if request.param == "memory":
        return InMemoryEventStore()
    return SqlEventStore(engine=request.getfixturevalue(f"{request.param}_engine"))


async def test_a_poisoned_event_is_dead_lettered_while_its_batch_mates_are_delivered(
    event_store: EventStore, aiohttp_server: Any
) -> None:
    clock = FrozenClock(datetime.now(UTC))  # the receiver checks the signature's timestamp
    sink = VerifyingSink()
    app = web.Application()
    app.router.add_post("/events", sink.handle)
    server = await aiohttp_server(app)
    first = pending(clock, data={"message": {"id": "m1", "kind": "text", "text": "hola"}})
    # "\ud83d" is valid JSON, stored as sent; it has no UTF-8 form of its own.
    lone = pending(clock, data={"message": {"id": "m2", "kind": "text", "text": "hi \ud83d!"}})
    deep = pending(clock, data={"message": {"id": "m3", "kind": "text", "payload": _nested(600)}})
    last = pending(clock, data={"message": {"id": "m4", "kind": "text", "text": "chau"}})
    assert await event_store.record(None, [first, lone, deep, last]) == (True,) * 4
    # Stored as sent, lone surrogate included (PostgreSQL too).
    assert (await event_store.get(TENANT, lone.id)).data == lone.data

    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session,
            url=str(server.make_url("/events")),
            signing_secret=Secret(SIGNING_SECRET),
            clock=clock,
        )
        forward = ForwardEvents(events=event_store, forwarder=forwarder, clock=clock)
        attempts = await forward.run_once()

    assert {a.event_id: a.outcome for a in attempts} == {
        first.id: Outcome.DELIVERED,
        lone.id: Outcome.DELIVERED,
        deep.id: Outcome.DEAD,
        last.id: Outcome.DELIVERED,
    }
    assert set(sink.received) == {first.id, lone.id, last.id}
    # The message still arrives, its lone surrogate shown as U+FFFD.
    assert sink.received[lone.id]["data"]["message"]["text"] == "hi \ufffd!"
    stored = {e.id: await event_store.get(TENANT, e.id) for e in (first, lone, deep, last)}
    assert [s.status for s in stored.values()] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DEAD,
        DeliveryStatus.DELIVERED,
    ]
    assert stored[deep.id].attempts == 1
    assert stored[deep.id].last_error == "unserializable: the payload is nested too deep"
    assert await forward.run_once() == [], "the batch was settled: nothing is delivered again"
