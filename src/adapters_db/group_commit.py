"""Group commit: let concurrent writers share one transaction.

With one transaction per webhook delivery the database's commit (an fsync on PostgreSQL) caps
ingest; while one commit is in flight, the deliveries that arrive meanwhile queue here and go
into the next transaction together. Nobody waits on a timer: a lone delivery is written at
once, and batches only form under load. Each caller still hears back only after the
transaction holding its rows has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from integration_core.errors import StorageUnavailable

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitter(Generic[Item, Result]):
    """Run *write* over batches of up to *max_batch* submitted items, up to *concurrency*
    batches at a time.

    With more than one, a batch can fill while another commits: the wait for a commit is a
    network round trip and an fsync, not CPU, so a second connection overlaps them (PostgreSQL
    then flushes both commits' WAL together). Callers of one batch hear back together; batches
    may finish in any order.

    *write* gets the items in submission order and returns one result per item. If it raises
    for a batch of several, nothing of it was committed and each item is written again alone,
    so one item the database refuses changes no other caller's answer; an item that fails alone
    gets its own exception. :class:`StorageUnavailable` (the database is away) goes to every
    caller of the batch at once.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 256,
        concurrency: int = 1,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """Write *item* with whatever else is waiting; return once its batch committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._flushers) < self._concurrency:
            self._flushers.add(asyncio.create_task(self._flush()))
        # A caller that gives up (client gone) cancels only its own future: the batch is the
        # flusher's task, and a cancelled future is skipped when the batch settles.
        return await future

    async def _flush(self) -> None:
        try:
            await self._drain()
        finally:
            # In the same step as the last check of the queue: a submit that comes after sees
            # this flusher gone and starts another (a done callback would run too late).
            task = asyncio.current_task()
            if task is not None:
                self._flushers.discard(task)

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to the waiters, not swallowed
                if len(batch) == 1 or isinstance(exc, StorageUnavailable):
                    # The database is away, not refusing one item: everyone hears so at once.
                    for _, future in batch:
                        _settle(future, exc)
                    continue
                for item, future in batch:
                    try:
                        (result,) = await self._write([item])
                    except Exception as alone:  # noqa: BLE001 - this waiter's own answer
                        _settle(future, alone)
                    else:
                        _settle(future, result)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)


def _settle(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
