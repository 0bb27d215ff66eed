"""Wake idle workers the moment something in the same process gives them work.

Workers poll every ``FORWARD_POLL_INTERVAL``; in an ``all`` process that is needless latency,
since the process knows exactly when there is something to do. The event store is given the
forwarders' doorbell (``on_queued``) and rings it after a commit that queued an event; the
intake rings the splitter's after each spooled delivery. Across processes (``--role api`` and
``--role worker``) the poll interval is the only signal, which is the point of keeping it short.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """A doorbell the workers of one process wait on between polls."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    def ring(self) -> None:
        """Wake every worker waiting right now (and the next one to wait)."""
        self._event.set()

    def close(self) -> None:
        """Wake everyone for good: from now on :meth:`wait` returns at once (shutdown)."""
        self._closed = True
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait up to *seconds* for a ring; return whether one came, and reset it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        rung = self._event.is_set()
        if not self._closed:
            self._event.clear()
        return rung
