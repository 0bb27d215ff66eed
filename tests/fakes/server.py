"""The base of every fake platform: a real aiohttp server on 127.0.0.1 that records and misbehaves.

A fake speaks real HTTP, so the clients under test run their production code paths (sessions,
timeouts, retries, error bodies) instead of a mock's idea of them. Every request is recorded in
:attr:`FakeServer.calls`, failed ones included; :meth:`FakeServer.fail_next` and
:meth:`FakeServer.stall_next` queue faults for the next requests, each platform rendering its
own error body (:meth:`FakeServer.fault_body`).

Start a fake in the test's event loop (``async with FakeMeta() as meta``) or, for synchronous
end-to-end tests that run the service as a subprocess, in a thread of its own
(:meth:`FakeServer.start_in_thread`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Self

import attrs
from aiohttp import web

from .background import BackgroundLoop

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen(kw_only=True)
class RecordedCall:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any


@attrs.frozen(kw_only=True)
class Fault:
    """What to do to one request: wait *delay* seconds, then answer *status* (or as usual)."""

    status: int | None = None
    body: Any = None
    text: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0


class FakeServer:
    """Serve :meth:`routes` on 127.0.0.1; subclasses add a platform's routes and state."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._background: BackgroundLoop | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.routes(self.app.router)

    # ------------------------------------------------------------------ for subclasses

    def routes(self, router: web.UrlDispatcher) -> None:
        """Add the platform's routes."""

    def fault_body(self, status: int) -> Any:
        """Return the JSON body the platform sends with an error *status*."""
        return {"error": f"HTTP {status}"}

    # ------------------------------------------------------------------ for tests

    @property
    def url(self) -> str:
        """Return the root URL, once started."""
        if self._port is None:
            raise RuntimeError("the fake server is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int | None:
        """Return the port listened on, once started."""
        return self._port

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 500,
        body: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next *times* requests with *status*.

        The body is JSON *body*, else plain *text* (an HTML error page from a proxy), else the
        platform's usual error body for *status*.
        """
        fault = Fault(status=status, body=body, text=text, headers=dict(headers or {}))
        self._queue(times, fault)

    def stall_next(self, times: int = 1, *, seconds: float = 5.0) -> None:
        """Hold the next *times* requests for *seconds* before answering (client timeouts)."""
        self._queue(times, Fault(delay=seconds))

    def calls_to(self, suffix: str, method: str | None = None) -> list[RecordedCall]:
        """Return the recorded calls whose path ends with *suffix* (and, if given, *method*)."""
        with self._lock:
            return [
                call
                for call in self.calls
                if call.path.endswith(suffix) and (method is None or call.method == method)
            ]

    async def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1:*port* (0: any free port); return self."""
        runner = web.AppRunner(self.app, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start_in_thread(self, port: int = 0) -> Self:
        """Serve from an event loop in a daemon thread (for synchronous tests); return self."""
        self._background = BackgroundLoop()
        self._background.run(self.start(port))
        return self

    def shutdown(self) -> None:
        """Stop a fake started with :meth:`start_in_thread`."""
        background, self._background = self._background, None
        if background is not None:
            background.run(self.close())
            background.stop()

    # ------------------------------------------------------------------ internals

    def _queue(self, times: int, fault: Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed: Any = await request.json() if body else None
        except ValueError:
            parsed = None
        with self._lock:
            self.calls.append(
                RecordedCall(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers=dict(request.headers),
                    body=body,
                    json=parsed,
                )
            )
        fault = self._next_fault()
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None and fault.text is not None:
                return web.Response(
                    status=fault.status,
                    text=fault.text,
                    content_type="text/html",
                    headers=fault.headers,
                )
            if fault.status is not None:
                payload = fault.body if fault.body is not None else self.fault_body(fault.status)
                return web.json_response(payload, status=fault.status, headers=fault.headers)
        return await handler(request)
