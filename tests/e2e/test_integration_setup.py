"""Onboarding end to end: a real ``serve`` process connects a bot on a fake Telegram.

Run on SQLite and PostgreSQL (the ``database_url`` fixture).

The setup API validates the token with Telegram, registers the per-integration webhook with a
generated secret token, and the update Telegram then posts there is stored and listed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..fakes.fake_telegram import FakeTelegram
from .conftest import StartService, free_port
from .forwarding_support import JWT_SECRET, TENANT, list_events, service_env, wait_until
from .messaging_sink import MessagingSink

BOT_TOKEN = "4242424242:AAE-e2e-bot-token"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start_in_thread()
    fake.add_bot(BOT_TOKEN, username="acme_e2e_bot")
    yield fake
    fake.shutdown()


def send(
    url: str, body: Any, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - a local URL
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_telegram_setup_registers_the_webhook_and_its_updates_are_stored(
    start_service: StartService,
    run_cli: Callable[..., Any],
    sink: MessagingSink,
    telegram: FakeTelegram,
    database_url: str,
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_env(
        database_url,
        sink,
        BASE_URL=base_url,
        TELEGRAM_API_BASE_URL=telegram.url,
    )
    service = start_service(port=port, PORT=str(port), **env)
    service.wait_for_health(200)
    minted = run_cli("token", "--tenant", TENANT, JWT_SECRET=JWT_SECRET)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()

    status, created = send(
        f"{base_url}/api/v1/integrations/telegram/setup",
        {"bot_token": BOT_TOKEN},
        {"Authorization": f"Bearer {token}"},
    )

    assert status == 201, created
    webhook_url = f"{base_url}/api/v1/integrations/webhooks/telegram/{created['id']}"
    assert created["webhook_url"] == webhook_url
    assert created["external_id"] == "4242424242"
    assert BOT_TOKEN not in json.dumps(created)
    webhook = telegram.bots[BOT_TOKEN].webhook
    assert webhook is not None
    assert webhook["url"] == webhook_url
    secret_token = str(webhook["secret_token"])
    assert secret_token

    update = {
        "update_id": 910001,
        "message": {
            "message_id": 7,
            "from": {"id": 555, "is_bot": False, "first_name": "Ana"},
            "chat": {"id": 555, "type": "private", "first_name": "Ana"},
            "date": int(time.time()),
            "text": "hola",
        },
    }
    wrong, _ = send(webhook_url, update, {SECRET_HEADER: "not-the-secret"})
    assert wrong == 401
    status, receipt = send(webhook_url, update, {SECRET_HEADER: secret_token})
    assert status == 200, receipt
    assert receipt["received"] == 1

    def listed() -> bool:
        return any(
            e["integration_id"] == created["id"] and e["channel"] == "telegram"
            for e in list_events(service, token)
        )

    wait_until(listed, timeout=10, what="the Telegram update in GET /api/v1/events")
