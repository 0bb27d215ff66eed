"""Forwarding: drain the outbox to the messaging service, retrying on a schedule until delivered.

Delivery is at least once with a stable event id; a failed attempt is retried after the next
delay of the schedule (with jitter, so a recovering messaging service is not hit by every
replica's retries at the same instant) and dead-lettered after the last one.

Each event is delivered inside its own error handling, so one event never holds up its batch:
one that cannot be serialized is dead-lettered at once with its reason, and even an unexpected
error only schedules that event's retry. Each settlement carries the claim's lease token, so an
attempt overtaken by a replay (or by a newer claim after its lease ran out) is not recorded.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from integration_core.errors import Conflict, DeliveryFailed, EventUnserializable
from integration_core.events import EventRecord, EventType, Settlement
from integration_core.ports import Clock, MessageForwarder, Outbox

DEFAULT_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When to try again: *delays[n]* is the wait before attempt *n + 1* (the first is ``0``).

    *jitter* spreads each delay by up to that fraction either way.
    """

    delays: tuple[timedelta, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.1

    def __attrs_post_init__(self) -> None:
        if not self.delays:
            raise ValueError("a retry schedule needs at least one attempt")
        if any(d < timedelta(0) for d in self.delays):
            raise ValueError("retry delays cannot be negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    @property
    def max_attempts(self) -> int:
        """Return how many attempts an event gets before it is dead-lettered."""
        return len(self.delays)

    def retry_at(self, attempts_made: int, *, now: datetime, rng: random.Random) -> datetime | None:
        """Return when to try again after *attempts_made* attempts, or ``None``: dead-letter."""
        if attempts_made >= len(self.delays):
            return None
        delay = self.delays[attempts_made]
        spread = delay * self.jitter * (2 * rng.random() - 1)
        return now + delay + spread


class Outcome(enum.StrEnum):
    """What one delivery attempt came to."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    STALE = "stale"
    """Attempted, but not recorded: a replay or a newer claim took the event over meanwhile."""


@attrs.frozen(kw_only=True)
class Attempt:
    """One delivery attempt, for metrics: *latency* is from receipt to delivery (delivered only)."""

    event_id: str
    outcome: Outcome
    error: str | None = None
    latency: timedelta | None = None
    event_type: EventType | None = None


class ForwardEvents:
    """Claim due events in batches and deliver them, *concurrency* at a time."""

    def __init__(
        self,
        *,
        events: Outbox,
        forwarder: MessageForwarder,
        clock: Clock,
        policy: RetryPolicy | None = None,
        batch_size: int = 100,
        concurrency: int = 16,
        lease: timedelta = timedelta(seconds=60),
        rng: random.Random | None = None,
    ) -> None:
        self._events = events
        self._forwarder = forwarder
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._batch_size = batch_size
        self._lease = lease
        self._semaphore = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    async def run_once(self) -> Sequence[Attempt]:
        """Deliver one batch of due events; return what happened to each (empty: nothing due).

        The outcomes of the whole batch are recorded in one :meth:`Outbox.settle` call. If
        that fails, the leases run out and the batch is delivered again: at least once. An
        attempt the outbox skipped (its lease was taken over) comes back as ``STALE``.
        """
        batch = await self._events.claim_due(
            now=self._clock.now(), limit=self._batch_size, lease=self._lease
        )
        return await self.deliver(batch)

    @property
    def batch_size(self) -> int:
        """Return how many events one batch holds at most (claimed, or stored held)."""
        return self._batch_size

    def held_until(self, now: datetime) -> datetime:
        """Return when a claim made at *now* runs out (for events stored already claimed)."""
        return now + self._lease

    async def deliver(self, batch: Sequence[EventRecord]) -> Sequence[Attempt]:
        """Deliver events this worker holds (claimed, each carrying its lease token) and settle
        them in one call; see :meth:`run_once`."""
        if not batch:
            return []
        outcomes = await asyncio.gather(*(self._deliver(record) for record in batch))
        skipped = set(await self._events.settle([settlement for _, settlement in outcomes]))
        return [
            attrs.evolve(attempt, outcome=Outcome.STALE, latency=None)
            if attempt.event_id in skipped
            else attempt
            for attempt, _ in outcomes
        ]

    async def _deliver(self, record: EventRecord) -> tuple[Attempt, Settlement]:
        async with self._semaphore:
            try:
                event = record.to_forward()
            except Conflict as exc:
                # An unrouted event can never be delivered: retrying would only delay the verdict.
                return self._failed(record, exc.message, final=True)
            try:
                await self._forwarder.forward(event)
            except EventUnserializable as exc:
                # The same event would fail the same way on every retry.
                return self._failed(record, exc.message, final=True)
            except DeliveryFailed as exc:
                return self._failed(record, exc.message)
            except Exception as exc:  # noqa: BLE001 - one event's bug must not hold up its batch
                return self._failed(record, f"unexpected error: {type(exc).__name__}")
            now = self._clock.now()
            attempt = Attempt(
                event_id=record.id,
                outcome=Outcome.DELIVERED,
                latency=now - record.received_at,
                event_type=record.type,
            )
            return attempt, Settlement.delivered(record.id, at=now, lease_token=record.lease_token)

    def _failed(
        self, record: EventRecord, error: str, *, final: bool = False
    ) -> tuple[Attempt, Settlement]:
        now = self._clock.now()
        retry_at = (
            None if final else self._policy.retry_at(record.attempts + 1, now=now, rng=self._rng)
        )
        outcome = Outcome.RETRY if retry_at is not None else Outcome.DEAD
        return (
            Attempt(event_id=record.id, outcome=outcome, error=error),
            Settlement.failed(
                record.id, error=error, retry_at=retry_at, at=now, lease_token=record.lease_token
            ),
        )
