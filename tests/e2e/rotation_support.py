"""Helpers of the token-rotation scenarios: the fake platforms, setup calls, integration reads."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import attrs
import pytest
from sqlalchemy import update

from adapters_db import create_engine
from adapters_db.tables import integrations

from ..fakes.fake_meta import APP_ID, FakeMeta
from ..fakes.fake_telegram import FakeTelegram
from .conftest import Service, StartService, free_port
from .forwarding_support import (
    JWT_SECRET,
    PHONE_NUMBER_ID,
    TENANT,
    WHATSAPP_SECRET,
    metric,
    service_env,
    wait_until,
)
from .messaging_sink import MessagingSink

WABA_ID = "waba-rotation-1"
LAST_PASS = "integration_token_rotation_last_pass_timestamp_seconds"
DAY = 86400


@attrs.frozen
class Fakes:
    """The fake platforms of a scenario."""

    meta: FakeMeta
    telegram: FakeTelegram


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    """Yield a running fake Meta (its app secret is the WhatsApp webhook secret) and Telegram."""
    meta = FakeMeta(app_secret=WHATSAPP_SECRET).start_in_thread()
    meta.add_phone_number(PHONE_NUMBER_ID, waba_id=WABA_ID)
    telegram = FakeTelegram().start_in_thread()
    try:
        yield Fakes(meta=meta, telegram=telegram)
    finally:
        telegram.shutdown()
        meta.shutdown()


class RotationService:
    """A running ``serve`` on the fake platforms, with an operator token and its environment."""

    def __init__(self, service: Service, env: dict[str, str], token: str) -> None:
        self.service = service
        self.env = env
        self.token = token

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """Call the management API as the tenant; return the status and the JSON body."""
        request = urllib.request.Request(  # noqa: S310 - a local URL
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - local
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def setup(self, channel: str, body: dict[str, str]) -> dict[str, Any]:
        """Connect an integration through the API; fail unless it answers 201."""
        status, created = self.call("POST", f"/api/v1/integrations/{channel}/setup", body)
        assert status == 201, created
        return created

    def integration(self, integration_id: str) -> dict[str, Any]:
        """Return the integration as ``GET /api/v1/integrations/{id}`` shows it."""
        status, found = self.call("GET", f"/api/v1/integrations/{integration_id}")
        assert status == 200, found
        return found


StartRotation = Callable[..., RotationService]


@pytest.fixture
def start_rotation(
    start_service: StartService,
    run_cli: Callable[..., Any],
    sink: MessagingSink,
    fakes: Fakes,
    database_url: str,
) -> StartRotation:
    """Return a function starting ``serve`` against the fakes, the sink and *database_url*."""

    def start(**extra: str) -> RotationService:
        port = free_port()
        env = service_env(
            database_url,
            sink,
            BASE_URL=f"http://127.0.0.1:{port}",
            META_GRAPH_BASE_URL=fakes.meta.graph_url,
            META_APP_ID=APP_ID,
            INSTAGRAM_GRAPH_BASE_URL=fakes.meta.instagram_url,
            TELEGRAM_API_BASE_URL=fakes.telegram.url,
            **extra,
        )
        service = start_service(port=port, PORT=str(port), **env)
        service.wait_for_health(200)
        # The scheduler's first pass runs at start; let it finish before anything is connected,
        # so that only what a test does next decides what is due.
        wait_until(lambda: (metric(service, LAST_PASS) or 0) > 0, timeout=30, what="the first pass")
        minted = run_cli("token", "--tenant", TENANT, JWT_SECRET=JWT_SECRET)
        assert minted.returncode == 0, minted.stderr
        return RotationService(service, env, minted.stdout.strip())

    return start


def in_days(days: float) -> int:
    """Return the Unix time *days* from now (what ``debug_token`` reports as ``expires_at``)."""
    return int(time.time() + days * DAY)


def set_token_expiry(database_url: str, integration_id: str, moment: datetime) -> None:
    """Record when an integration's token expires, as a platform that reports it would."""

    async def write() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    update(integrations)
                    .where(integrations.c.id == integration_id)
                    .values(token_expires_at=moment)
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def expires_in_days(integration: dict[str, Any]) -> float:
    """Return how many days away the integration's ``token_expires_at`` is."""
    moment = datetime.fromisoformat(integration["token_expires_at"].replace("Z", "+00:00"))
    return (moment.timestamp() - time.time()) / DAY


def events_of(sink: MessagingSink, integration_id: str, type_: str) -> list[dict[str, Any]]:
    """Return the events of *type_* about *integration_id* the sink accepted."""
    return [
        e for e in sink.received if e["type"] == type_ and e["integration_id"] == integration_id
    ]
