"""Group commit: concurrent deliveries share transactions, and each hears only its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.events import SqlEventStore
from adapters_db.group_commit import GroupCommitter
from integration_core.channels import Channel
from integration_core.errors import StorageUnavailable
from integration_core.events import EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.webhooks import InboundEvent

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _event(key: str) -> EventRecord:
    return EventRecord(
        id=new_id("evt"),
        channel=Channel.WHATSAPP,
        dedupe_key=key,
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=TenantId("t1"),
        integration_id="int_1",
        occurred_at=AT,
        received_at=AT,
        data={"message": {"id": key}},
    )


def _inbound() -> InboundEvent:
    return InboundEvent(id=new_id("in"), channel=Channel.WHATSAPP, received_at=AT, body=b"{}")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return engine


async def test_concurrent_deliveries_share_transactions(engine: AsyncEngine) -> None:
    commits = 0

    def count(_: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(engine.sync_engine, "commit", count)
    store = SqlEventStore(engine=engine)
    outcomes = await asyncio.gather(
        *(store.record(_inbound(), [_event(f"k{n}"), _event("shared")]) for n in range(40))
    )
    assert all(first for first, _ in outcomes)
    assert sum(shared for _, shared in outcomes) == 1, "the shared event is new exactly once"
    assert commits < 40, f"{commits} commits for 40 concurrent deliveries"
    assert (await store.stats()).pending == 41


async def test_without_group_commit_each_delivery_commits_alone(engine: AsyncEngine) -> None:
    store = SqlEventStore(engine=engine, group_commit=False)
    outcomes = await asyncio.gather(*(store.record(None, [_event("same")]) for _ in range(10)))
    assert sorted(outcomes) == [(False,)] * 9 + [(True,)]


async def test_a_failed_batch_fails_every_caller_and_the_next_batch_works() -> None:
    calls: list[Sequence[int]] = []

    async def write(items: Sequence[int]) -> list[int]:
        calls.append(items)
        await asyncio.sleep(0)
        if 13 in items:
            raise StorageUnavailable()
        return [i * 2 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    first = asyncio.gather(*(committer.submit(i) for i in (1, 13, 3)), return_exceptions=True)
    results = await first
    assert all(isinstance(r, StorageUnavailable) for r in results)
    assert await committer.submit(4) == 8


async def test_batches_are_capped_and_a_cancelled_caller_does_not_cancel_the_batch() -> None:
    sizes: list[int] = []
    release = asyncio.Event()

    async def write(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        await release.wait()
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write, max_batch=3)
    tasks = [asyncio.create_task(committer.submit(i)) for i in range(7)]
    await asyncio.sleep(0.01)
    tasks[1].cancel()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 1] == [0, 2, 3, 4, 5, 6]
    assert sum(sizes) == 7
    assert max(sizes) <= 3


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_a_submit_right_after_a_batch_settled_is_never_stranded(concurrency: int) -> None:
    async def write(items: Sequence[int]) -> list[int]:
        await asyncio.sleep(0)
        return [i * 2 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write, concurrency=concurrency)
    # Each caller submits again the moment it is answered, while the flusher that answered
    # it is finishing: the new item must start a flusher of its own, not wait forever.
    for n in range(50):
        assert await asyncio.wait_for(committer.submit(n), timeout=1) == 2 * n


async def test_two_batches_are_in_flight_at_once_with_concurrency_two() -> None:
    in_flight = 0
    most = 0
    release = asyncio.Event()

    async def write(items: Sequence[int]) -> list[int]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write, concurrency=2)
    first = asyncio.create_task(committer.submit(0))
    await asyncio.sleep(0.01)  # its batch is committing
    later = [asyncio.create_task(committer.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0.01)  # they fill a second batch meanwhile, not a queue behind it
    assert most == 2
    release.set()
    assert await asyncio.gather(first, *later) == [0, 1, 2]
