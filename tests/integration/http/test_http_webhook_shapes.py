"""Every delivery shape, posted signed through the real HTTP intake on SQLite and PostgreSQL.

Each shape of ``tests/deliveries`` (one per kind of real delivery, see its README) is answered
``200``, and once the spool is split each of its items is stored exactly once for each
integration it speaks for, as the event type its shape lists, with a forwarded body the
published schema allows; WhatsApp account-level changes reach every number of the account.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlEventStore, SqlIntegrationStore
from adapters_db.inbox import SqlEventInbox
from adapters_http import HttpServices
from integration_core.channels import Channel, Integration
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.serialization import make_converter
from integration_core.webhooks import routing_secret_token

from .http_webhook_support import WEBHOOKS, encode, events_of, integration, meta_headers, seed

DOCS = Path(__file__).resolve().parents[3] / "docs"
DELIVERIES = Path(__file__).resolve().parents[2] / "deliveries"
TENANT = "tenant-shapes"
_MESSAGES = {EventType.MESSAGE_RECEIVED, EventType.MESSAGE_EDITED, EventType.MESSAGE_SENT}

# The accounts the shape files use (tests/deliveries): one per platform, plus a second number
# of the same WhatsApp business account, which receives the account-level changes too.
WABA = "310000000000001"
NUMBER = "120000000000001"
OTHER_NUMBER = "120000000000002"
PAGE = "200000000000001"
IG_ACCOUNT = "17841400000000099"


@cache
def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads((DOCS / "events.schema.json").read_text("utf-8")))


def _shapes(platform: str) -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(
        (DELIVERIES / f"{platform}.json").read_text(encoding="utf-8")
    )
    return loaded


def describe(record: EventRecord) -> str:
    """Return ``"<type>:<kind>[ standby]"``, as the shape files list expected events."""
    data = record.data
    if record.type in _MESSAGES:
        detail = data["message"]["kind"]
    elif record.type is EventType.MESSAGE_STATUS:
        detail = data["status"]["state"]
    elif record.type is EventType.PLATFORM_EVENT:
        detail = data["kind"]
    else:
        detail = ""
    standby = " standby" if data.get("standby") is True else ""
    return f"{record.type.value}:{detail}{standby}"


def schema_problems(record: EventRecord) -> list[str]:
    """Return why the body forwarded for *record* breaks the published schema (none: fine)."""
    body = json.loads(json.dumps(make_converter().unstructure(record.to_forward())))
    return [error.message for error in _schema().iter_errors(body)]


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return a fresh, migrated database of each kind in turn."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


@pytest.fixture
async def services(
    make_services: Callable[..., HttpServices], engine: AsyncEngine
) -> AsyncIterator[HttpServices]:
    """Yield the services over the database: integrations, events and the intake's spool."""
    inbox = SqlEventInbox(engine=engine)
    try:
        yield make_services(
            integrations=SqlIntegrationStore(engine=engine),
            events=SqlEventStore(engine=engine),
            inbox=inbox,
        )
    finally:
        await inbox.aclose()


class Poster:
    """Post each shape, split the spool, and collect what each shape got wrong."""

    def __init__(self, client: Any, services: HttpServices) -> None:
        self._client = client
        self._services = services
        self._seen: set[str] = set()
        self.problems: list[str] = []

    async def post(
        self, name: str, path: str, body: bytes, headers: dict[str, str]
    ) -> list[EventRecord]:
        """Post one delivery; return the events it added, noting any problem under *name*."""
        response = await self._client.post(path, data=body, headers=headers)
        if response.status != 200:
            self.problems.append(f"{name}: answered {response.status} {await response.text()}")
            return []
        fresh = [e for e in await events_of(self._services, TENANT) if e.id not in self._seen]
        self._seen.update(e.id for e in fresh)
        fresh.sort(key=lambda e: e.dedupe_key)
        for record in fresh:
            if record.status is not DeliveryStatus.PENDING:
                self.problems.append(f"{name}: {describe(record)} is {record.status}")
            if problems := schema_problems(record):
                self.problems.append(f"{name}: {describe(record)} breaks the schema: {problems}")
        return fresh

    def expect(self, name: str, got: list[str], wanted: list[str]) -> None:
        """Note a problem unless *got* (the events' descriptions) are *wanted*, in any order."""
        if sorted(got) != sorted(wanted):
            self.problems.append(f"{name}: got {got}, wanted {wanted}")


@pytest.fixture
async def poster(make_client: Any, services: HttpServices) -> Poster:
    return Poster(await make_client(services), services)


async def seed_meta(services: HttpServices, credentials: Any) -> dict[str, Integration]:
    """Connect the shape files' WhatsApp numbers, page and Instagram account (no own secret:
    the platform-wide app secret speaks for them)."""
    numbers = {
        number: attrs.evolve(
            integration(n, Channel.WHATSAPP, number, tenant=TENANT),
            config={"business_account_id": WABA},
        )
        for n, number in ((1, NUMBER), (2, OTHER_NUMBER))
    }
    connected = {
        **numbers,
        PAGE: integration(3, Channel.MESSENGER, PAGE, tenant=TENANT),
        IG_ACCOUNT: integration(4, Channel.INSTAGRAM, IG_ACCOUNT, tenant=TENANT),
    }
    for one in connected.values():
        await seed(services, credentials, one)
    return connected


async def test_every_whatsapp_shape(
    poster: Poster, services: HttpServices, credentials: Any
) -> None:
    connected = await seed_meta(services, credentials)
    for name, shape in _shapes("whatsapp").items():
        body = encode(shape["body"])
        events = await poster.post(name, f"{WEBHOOKS}/whatsapp", body, meta_headers(body))
        if shape.get("route") == "business_account":
            # Every number of the business account gets its own copy of account-level news.
            for number in (NUMBER, OTHER_NUMBER):
                mine = [describe(e) for e in events if e.integration_id == connected[number].id]
                poster.expect(f"{name} (number {number})", mine, shape["events"])
        else:
            targets = {e.integration_id for e in events}
            if events and targets != {connected[NUMBER].id}:
                poster.problems.append(f"{name}: routed to {targets}")
            poster.expect(name, [describe(e) for e in events], shape["events"])
    assert not poster.problems, "\n".join(poster.problems)


@pytest.mark.parametrize(("channel", "account"), [("messenger", PAGE), ("instagram", IG_ACCOUNT)])
async def test_every_messenger_and_instagram_shape(
    poster: Poster, services: HttpServices, credentials: Any, channel: str, account: str
) -> None:
    connected = await seed_meta(services, credentials)
    for name, shape in _shapes(channel).items():
        body = encode(shape["body"])
        events = await poster.post(name, f"{WEBHOOKS}/{channel}", body, meta_headers(body))
        if any(e.integration_id != connected[account].id for e in events):
            poster.problems.append(f"{name}: routed to {[e.integration_id for e in events]}")
        poster.expect(name, [describe(e) for e in events], shape["events"])
    assert not poster.problems, "\n".join(poster.problems)


async def test_every_telegram_shape(
    poster: Poster, services: HttpServices, credentials: Any
) -> None:
    bot = integration(5, Channel.TELEGRAM, "7100000001", tenant=TENANT)
    token = routing_secret_token(bot.id, "shapesSecret01")
    await seed(services, credentials, bot, webhook_secret_token=token)
    headers = {"X-Telegram-Bot-Api-Secret-Token": token, "Content-Type": "application/json"}
    for name, shape in _shapes("telegram").items():
        path = f"{WEBHOOKS}/telegram/{bot.id}"
        events = await poster.post(name, path, encode(shape["body"]), headers)
        if any(e.integration_id != bot.id for e in events):
            poster.problems.append(f"{name}: routed to {[e.integration_id for e in events]}")
        poster.expect(name, [describe(e) for e in events], shape["events"])
    assert not poster.problems, "\n".join(poster.problems)


async def test_a_redelivered_shape_is_stored_once(
    poster: Poster, services: HttpServices, credentials: Any
) -> None:
    """Items keyed by a hash of their content (no platform id) are recognised on redelivery."""
    await seed_meta(services, credentials)
    shape = _shapes("whatsapp")["template_status_approved"]
    body = encode(shape["body"])
    first = await poster.post("first", f"{WEBHOOKS}/whatsapp", body, meta_headers(body))
    again = await poster.post("again", f"{WEBHOOKS}/whatsapp", body, meta_headers(body))
    assert not poster.problems, "\n".join(poster.problems)
    assert len(first) == 2
    assert again == []
