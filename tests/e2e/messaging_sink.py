"""A fake messaging service: a real aiohttp server on 127.0.0.1 that the service forwards to.

It checks every delivery with the official ``standardwebhooks`` library (what a real messaging
service would run) and against the published ``docs/events.schema.json`` (so every event type
the service really forwards, payments and token rotation included, matches its documentation),
records what it accepted, and can be told to fail with ``503`` for a while.
It runs its own event loop in a thread, so the synchronous end-to-end tests can drive it while
they block on subprocesses and sockets.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..fakes.background import BackgroundLoop

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


@cache
def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_signing_secret() -> str:
    """Return a fresh ``MESSAGING_SIGNING_SECRET`` (``whsec_`` and 24 random bytes, base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class MessagingSink:
    """Receive forwarded events, verifying each one with *signing_secret*."""

    def __init__(self, signing_secret: str) -> None:
        self.port = _free_port()
        self.signing_secret = signing_secret
        self._webhook = Webhook(signing_secret)
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self._attempts: list[tuple[str, int]] = []
        self._rejected: list[str] = []
        self._fail_next = 0
        self._failing = False
        self._background: BackgroundLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Return where the service should POST events."""
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> MessagingSink:
        """Start listening; return self."""
        self._background = BackgroundLoop()
        self._background.run(self._start())
        return self

    def shutdown(self) -> None:
        """Stop listening and end the thread."""
        if self._background is not None:
            self._background.run(self._stop())
            self._background.stop()

    def fail(self, times: int | None = None) -> None:
        """Answer ``503`` to the next *times* deliveries (``None``: until :meth:`recover`)."""
        with self._lock:
            if times is None:
                self._failing = True
            else:
                self._fail_next = times

    def recover(self) -> None:
        """Accept deliveries again."""
        with self._lock:
            self._failing = False
            self._fail_next = 0

    @property
    def received(self) -> list[dict[str, Any]]:
        """Return every event accepted (answered ``200``), in order of arrival."""
        with self._lock:
            return list(self._received)

    @property
    def attempts(self) -> list[tuple[str, int]]:
        """Return ``(webhook-id, status answered)`` of every verified delivery."""
        with self._lock:
            return list(self._attempts)

    @property
    def rejected(self) -> list[str]:
        """Return why each delivery that failed verification failed (should stay empty)."""
        with self._lock:
            return list(self._rejected)

    def counts(self) -> Counter[str]:
        """Return how many times each event id was accepted."""
        return Counter(event["id"] for event in self.received)

    def message_ids(self) -> set[str]:
        """Return the platform message ids of every accepted ``message.received`` event."""
        return {
            e["data"]["message"]["id"] for e in self.received if e["type"] == "message.received"
        }

    def wait_for(
        self, condition: Callable[[MessagingSink], bool], timeout: float = 15, what: str = ""
    ) -> None:
        """Wait until *condition(self)* holds; fail with what was received if it never does."""
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the messaging service never saw {what or 'the expected events'} in "
                    f"{timeout}s; received {len(self.received)}: {self.counts()}, "
                    f"rejected: {self.rejected}"
                )
            time.sleep(0.1)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self._receive)
        app.router.add_route("HEAD", "/events", self._head)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _head(self, _request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = self._webhook.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            with self._lock:
                self._rejected.append(str(exc))
            return web.Response(status=401)
        if (
            request.headers["webhook-id"] != event["id"]
            or request.content_type != "application/json"
        ):
            with self._lock:
                self._rejected.append("webhook-id is not the event id, or not JSON")
            return web.Response(status=400)
        problems = [error.message for error in _schema().iter_errors(event)]
        if problems:
            with self._lock:
                self._rejected.append(f"{event.get('type')} breaks the schema: {problems[:3]}")
            return web.Response(status=400)
        with self._lock:
            failing = self._failing or self._fail_next > 0
            if self._fail_next > 0:
                self._fail_next -= 1
            status = 503 if failing else 200
            self._attempts.append((request.headers["webhook-id"], status))
            if not failing:
                self._received.append(event)
        return web.Response(status=status)
