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

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitter(Generic[Item, Result]):
    """Run *write* over batches of up to *max_batch* submitted items, one batch at a time.

    *write* gets the items in submission order and returns one result per item; if it raises,
    every caller of that batch gets the exception (nothing of the batch was committed).
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 256,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write *item* with whatever else is waiting; return once its batch committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # A caller that gives up (client gone) must not cancel the batch the others share.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiter, not swallowed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
