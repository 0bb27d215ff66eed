"""The IdempotencyStore contract, run over every implementation (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlIdempotencyStore, create_engine
from integration_core.errors import NotFound, StorageUnavailable
from integration_core.idempotency import IdempotencyRecord
from integration_core.ids import TenantId
from integration_core.ports import IdempotencyStore
from integration_core.testing import InMemoryIdempotencyStore

from .conftest import Backend

T0 = datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=UTC)
ALICE = TenantId("alice")
BOB = TenantId("bob")
SCOPE = "integrations.setup"
FRESH: dict[str, datetime] = {
    "abandoned_before": T0 - timedelta(minutes=5),
    "expired_before": T0 - timedelta(hours=24),
}


@pytest.fixture
def store(backend: Backend) -> IdempotencyStore:
    if backend.engine is None:
        return InMemoryIdempotencyStore()
    return SqlIdempotencyStore(engine=backend.engine)


def record(**overrides: Any) -> IdempotencyRecord:
    values: dict[str, Any] = {
        "tenant_id": ALICE,
        "scope": SCOPE,
        "key": "key-1",
        "fingerprint": "f" * 64,
        "created_at": T0,
    }
    values.update(overrides)
    return IdempotencyRecord(**values)


def completed(claimed: IdempotencyRecord) -> IdempotencyRecord:
    return attrs.evolve(
        claimed,
        completed_at=T0 + timedelta(seconds=1),
        resource_id="int_01",
        response={"integration": {"id": "int_01", "config": {"name": "Ünïcode ☕"}}, "n": 1},
    )


async def test_the_first_claim_wins_and_later_ones_see_it(store: IdempotencyStore) -> None:
    first = record()

    assert await store.claim(first, **FRESH) is None
    held = await store.claim(record(fingerprint="0" * 64), **FRESH)

    assert held == first


async def test_a_completed_record_comes_back_whole(store: IdempotencyStore) -> None:
    first = record()
    await store.claim(first, **FRESH)
    done = completed(first)

    await store.complete(done)

    assert await store.claim(record(), **FRESH) == done


async def test_keys_are_scoped_per_tenant_and_scope(store: IdempotencyStore) -> None:
    assert await store.claim(record(), **FRESH) is None
    assert await store.claim(record(tenant_id=BOB), **FRESH) is None
    assert await store.claim(record(scope="payments.create"), **FRESH) is None
    assert await store.claim(record(key="key-2"), **FRESH) is None


async def test_an_abandoned_claim_is_taken_over(store: IdempotencyStore) -> None:
    await store.claim(record(created_at=T0 - timedelta(minutes=10)), **FRESH)
    newer = record(fingerprint="1" * 64)

    assert await store.claim(newer, **FRESH) is None
    assert await store.claim(record(), **FRESH) == newer


async def test_a_completed_record_is_kept_until_it_expires(store: IdempotencyStore) -> None:
    old = record(created_at=T0 - timedelta(hours=2))
    await store.claim(old, **FRESH)
    await store.complete(completed(old))

    assert await store.claim(record(), **FRESH) == completed(old)
    later = {**FRESH, "expired_before": T0 - timedelta(hours=1)}
    assert await store.claim(record(), **later) is None


async def test_release_forgets_an_in_progress_claim_only(store: IdempotencyStore) -> None:
    await store.claim(record(), **FRESH)
    await store.release(ALICE, SCOPE, "key-1")
    assert await store.claim(record(), **FRESH) is None

    await store.complete(completed(record()))
    await store.release(ALICE, SCOPE, "key-1")
    assert await store.claim(record(), **FRESH) == completed(record())
    await store.release(ALICE, SCOPE, "never-claimed")


async def test_complete_needs_the_same_claim(store: IdempotencyStore) -> None:
    with pytest.raises(NotFound):
        await store.complete(completed(record()))
    await store.claim(record(created_at=T0 - timedelta(minutes=10)), **FRESH)
    await store.claim(record(), **FRESH)  # took the abandoned claim over

    with pytest.raises(NotFound):
        await store.complete(completed(record(created_at=T0 - timedelta(minutes=10))))
    await store.complete(completed(record()))
    with pytest.raises(NotFound):
        await store.complete(completed(record()))


async def test_concurrent_claims_of_one_key_have_one_winner(
    backend: Backend, store: IdempotencyStore
) -> None:
    replica: IdempotencyStore = store
    engine: AsyncEngine | None = None
    if backend.engine is not None:
        engine = create_engine(backend.engine.url.render_as_string(hide_password=False))
        replica = SqlIdempotencyStore(engine=engine)
    try:
        claims = [record(fingerprint=f"{n:064d}") for n in range(6)]
        answers = await asyncio.gather(
            *((store if n % 2 else replica).claim(claim, **FRESH) for n, claim in enumerate(claims))
        )
    finally:
        if engine is not None:
            await engine.dispose()

    winners = [claims[n] for n, answer in enumerate(answers) if answer is None]
    assert len(winners) == 1
    assert all(answer == winners[0] for answer in answers if answer is not None)


async def test_purge_deletes_only_records_created_before_the_moment(
    store: IdempotencyStore,
) -> None:
    old_done = completed(record(key="old-done", created_at=T0 - timedelta(hours=25)))
    old_claim = record(key="old-claim", tenant_id=BOB, created_at=T0 - timedelta(hours=30))
    at_the_edge = record(key="edge", created_at=T0 - timedelta(hours=24))
    recent = record(key="recent", created_at=T0)
    for claimed in (old_done, old_claim, at_the_edge, recent):
        assert await store.claim(attrs.evolve(claimed, completed_at=None), **FRESH) is None
    await store.complete(old_done)

    assert await store.purge(created_before=T0 - timedelta(hours=24)) == 2
    assert await store.purge(created_before=T0 - timedelta(hours=24)) == 0, "nothing left"

    # Claims that never count a record as stale: a key is free only if its record is gone.
    never_stale = {
        "abandoned_before": T0 - timedelta(days=30),
        "expired_before": T0 - timedelta(days=30),
    }
    again = [
        record(key="old-done"),
        record(key="old-claim", tenant_id=BOB),
        record(key="edge"),
        record(key="recent"),
    ]
    answers = [await store.claim(r, **never_stale) for r in again]
    assert answers == [None, None, at_the_edge, recent], "the edge is exclusive: kept"


async def test_an_unreachable_database_raises_storage_unavailable(
    unreachable_engine: AsyncEngine | None,
) -> None:
    store: IdempotencyStore
    if unreachable_engine is None:
        memory = InMemoryIdempotencyStore()
        memory.available = False
        store = memory
    else:
        store = SqlIdempotencyStore(engine=unreachable_engine)

    with pytest.raises(StorageUnavailable):
        await store.claim(record(), **FRESH)
    with pytest.raises(StorageUnavailable):
        await store.complete(completed(record()))
    with pytest.raises(StorageUnavailable):
        await store.release(ALICE, SCOPE, "key-1")
    with pytest.raises(StorageUnavailable):
        await store.purge(created_before=T0)
