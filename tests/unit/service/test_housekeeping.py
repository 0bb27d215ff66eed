"""The worker's idempotency purge loop: what it deletes, and that a failure never ends it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from structlog.testing import capture_logs

from integration_core.errors import StorageUnavailable
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId
from integration_core.testing import FrozenClock, InMemoryIdempotencyStore
from integration_core.use_cases.setup_idempotency import KEPT_FOR
from integration_service.loops import purge_idempotency_records

CLOCK = FrozenClock()
NOW = CLOCK.now()
NEVER_STALE = {"abandoned_before": NOW - 10 * KEPT_FOR, "expired_before": NOW - 10 * KEPT_FOR}


def record(key: str, created_at: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(
        tenant_id=TenantId("acme"),
        scope="integrations.setup",
        key=key,
        fingerprint="f" * 64,
        created_at=created_at,
    )


class StopAfter(InMemoryIdempotencyStore):
    """Fail the first *failures* purges, then purge; set *stop* after the first real purge."""

    def __init__(self, stop: asyncio.Event, failures: list[Exception]) -> None:
        super().__init__()
        self.stop = stop
        self.failures = failures
        self.calls: list[datetime] = []

    async def purge(self, *, created_before: datetime) -> int:
        self.calls.append(created_before)
        if self.failures:
            raise self.failures.pop(0)
        self.stop.set()
        return await super().purge(created_before=created_before)


async def test_records_past_their_retention_are_purged_and_counted_in_the_log() -> None:
    stop = asyncio.Event()
    store = StopAfter(stop, failures=[])
    old, fresh = record("old", NOW - KEPT_FOR - timedelta(seconds=1)), record("fresh", NOW)
    for claimed in (old, fresh):
        assert await store.claim(claimed, **NEVER_STALE) is None

    with capture_logs() as logs:
        await purge_idempotency_records(store=store, clock=CLOCK, stop=stop, interval=0)

    assert store.calls == [NOW - KEPT_FOR]
    assert await store.claim(record("old", NOW), **NEVER_STALE) is None, "its key is free again"
    assert await store.claim(record("fresh", NOW), **NEVER_STALE) == fresh, "still held"
    assert [(e["event"], e.get("count")) for e in logs] == [("idempotency_records_purged", 1)]


async def test_a_failing_purge_is_logged_and_tried_again() -> None:
    stop = asyncio.Event()
    store = StopAfter(stop, failures=[StorageUnavailable(), RuntimeError("bug")])

    with capture_logs() as logs:
        await purge_idempotency_records(store=store, clock=CLOCK, stop=stop, interval=0)

    assert len(store.calls) == 3, "two failures, then the purge that stopped the loop"
    assert [e["event"] for e in logs] == [
        "idempotency_purge_storage_unavailable",
        "idempotency_purge_failed",
    ], "nothing purged on the third pass: no line for it"


async def test_a_stopped_loop_returns_without_purging() -> None:
    stop = asyncio.Event()
    stop.set()
    store = StopAfter(stop, failures=[])

    await purge_idempotency_records(store=store, clock=CLOCK, stop=stop)

    assert store.calls == []
