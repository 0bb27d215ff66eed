"""An event loop in a daemon thread, for servers that synchronous tests drive.

The end-to-end tests block on subprocesses and sockets, so the fake servers they talk to (the
messaging service, Mercado Pago, a TCP proxy in front of PostgreSQL) each run their own loop
here and are driven with :meth:`BackgroundLoop.run`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """Run coroutines on a loop of its own, in a daemon thread, until :meth:`stop`."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 5) -> T:
        """Run *coroutine* on the loop and return its result (raise what it raises)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout)

    def stop(self) -> None:
        """Stop the loop, join its thread and close it."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
