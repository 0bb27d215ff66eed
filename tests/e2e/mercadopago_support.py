"""The fake Mercado Pago in a thread, and what the payments end-to-end tests send to ``serve``.

The fake is the one the client tests use (``tests/fakes/fake_mercadopago.py``); here it runs in
an event loop of its own, since the tests drive real subprocesses synchronously. A notification
is signed the way Mercado Pago signs it (``x-signature`` over the manifest of ``data.id``,
``x-request-id`` and ``ts``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from aiohttp import web

from integration_core.credentials import Secret
from integration_core.signatures import mercadopago

from ..fakes.background import BackgroundLoop
from ..fakes.fake_mercadopago import FakeMercadoPago, Notification
from .conftest import Service, free_port

WEBHOOK_SECRET = "mp-webhook-secret-e2e"
NOTIFICATIONS_PATH = "/api/v1/webhooks/mercadopago"


class ThreadedMercadoPago:
    """Serve a :class:`FakeMercadoPago` on 127.0.0.1 from a thread of its own."""

    def __init__(self) -> None:
        self.fake = FakeMercadoPago()
        self.port = free_port()
        self._background: BackgroundLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedMercadoPago:
        self._background = BackgroundLoop()
        self._background.run(self._start())
        return self

    def shutdown(self) -> None:
        if self._background is not None:
            self._background.run(self._stop())
            self._background.stop()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one of the fake's controls in its own loop (no race with its handlers)."""

        async def run() -> Any:
            return getattr(self.fake, method)(*args, **kwargs)

        assert self._background is not None, "start() first"
        return self._background.run(run())

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.fake.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def api(
    service: Service,
    method: str,
    path: str,
    token: str,
    body: Any = None,
    *,
    key: str | None = None,
) -> tuple[int, Any]:
    """Call the service's management API; return the status and the JSON body."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def deliver(service: Service, notification: Notification, secret: str = WEBHOOK_SECRET) -> int:
    """Sign *notification* as Mercado Pago would and POST it to the service; the status."""
    request_id = str(uuid.uuid4())
    signature = mercadopago.sign(
        Secret(secret),
        data_id=notification.query.get("data.id"),
        request_id=request_id,
        ts=int(time.time()),
    )
    query = urllib.parse.urlencode(notification.query)
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}{NOTIFICATIONS_PATH}?{query}",
        data=json.dumps(notification.body).encode(),
        headers={
            "Content-Type": "application/json",
            "x-signature": signature,
            "x-request-id": request_id,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
