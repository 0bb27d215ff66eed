"""Webhook intake v2 through the real container, HTTP app and database (SQLite and PostgreSQL).

Each test is one way the intake used to trust unverified input or let one delivery spoil
others (issue 9): the request path verifies with secrets known in advance and spools the raw
bytes; the worker stage splits, and a bad delivery concerns itself alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_http.app import create_app
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import CredentialRef, Secret
from integration_core.events import DeliveryStatus
from integration_core.ids import TenantId, new_id
from integration_core.signatures import meta, telegram
from integration_core.webhooks import routing_secret_token
from integration_service.container import Container, build_services, engine_of, resolve, shutdown
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

from ..sql_statements import recorded_statements

ROOT = "/api/v1/integrations/webhooks"
PLATFORM_SECRET = Secret("platform-wide-meta-secret")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.db'}"
    engine: AsyncEngine = request.getfixturevalue("postgres_engine")
    return engine.url.render_as_string(hide_password=False)


class World:
    """The container of one service process, its HTTP client, and its worker stage."""

    def __init__(self, container: Container, client: TestClient[Any, Any]) -> None:
        self.container = container
        self.client = client
        self.services = client.server.app

    async def connect(
        self, channel: Channel, external_id: str, *, tenant: str = "t1", **secrets: str
    ) -> Integration:
        now = datetime.now(UTC)
        integration = Integration(
            id=new_id("int"),
            tenant_id=TenantId(tenant),
            channel=channel,
            status=IntegrationStatus.ACTIVE,
            external_id=external_id,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        await (await resolve(self.container.integrations)).add(integration)
        credentials = await resolve(self.container.credentials)
        for name, value in secrets.items():
            ref = CredentialRef(
                tenant_id=integration.tenant_id, integration_id=integration.id, name=name
            )
            await credentials.put(ref, Secret(value))
        return integration

    async def split(self) -> None:
        splitter = await resolve(self.container.split_deliveries)
        while (await splitter.run_once()).claimed:
            pass

    async def events_of(self, tenant: str) -> list[Any]:
        await self.split()
        events = await resolve(self.container.events)
        return list((await events.list(TenantId(tenant), limit=200)).items)

    async def spool_failed(self) -> int:
        inbox = await resolve(self.container.inbox)
        return (await inbox.spool_stats()).dead


@pytest.fixture
async def world(
    database_url: str, tmp_path: Path, aiohttp_client: Callable[[Any], Awaitable[Any]]
) -> AsyncIterator[World]:
    env = {
        "DATABASE_URL": database_url,
        "WHATSAPP_WEBHOOK_SECRET": PLATFORM_SECRET.reveal(),
        "RATE_LIMIT_RPS": "100000",
        "RATE_LIMIT_BURST": "100000",
    }
    container = Container(settings=Settings.from_env(env, cwd=tmp_path))
    try:
        services = await build_services(container)
        await migrate_until_done(await engine_of(container), await resolve(container.migrations))
        client = await aiohttp_client(create_app(services))
        yield World(container, client)
    finally:
        await shutdown(container)


def whatsapp(*items: tuple[str, str], text: str = "hola") -> bytes:
    """A delivery with one change per (phone_number_id, wamid)."""
    changes = [
        {
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"phone_number_id": phone},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491100000000"}],
                "messages": [
                    {
                        "from": "5491100000000",
                        "id": wamid,
                        "timestamp": "1767225600",
                        "type": "text",
                        "text": {"body": text},
                    }
                ],
            },
        }
        for phone, wamid in items
    ]
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": changes}]}
    ).encode()


def signed(body: bytes, secret: Secret = PLATFORM_SECRET) -> dict[str, str]:
    return {meta.HEADER: meta.sign(secret, body), "Content-Type": "application/json"}


async def test_two_integrations_sharing_one_app_secret_each_keep_their_item(world: World) -> None:
    first = await world.connect(Channel.WHATSAPP, "111", tenant="t1", app_secret="one-app")
    await world.connect(Channel.WHATSAPP, "222", tenant="t2", app_secret="one-app")
    body = whatsapp(("111", "wamid.A"), ("222", "wamid.B"))

    answer = await world.client.post(
        f"{ROOT}/whatsapp/{first.id}", data=body, headers=signed(body, Secret("one-app"))
    )
    retry = await world.client.post(
        f"{ROOT}/whatsapp/{first.id}", data=body, headers=signed(body, Secret("one-app"))
    )

    assert (answer.status, retry.status) == (200, 200)
    assert [e.dedupe_key for e in await world.events_of("t1")] == ["111:wamid.A"]
    assert [e.dedupe_key for e in await world.events_of("t2")] == ["222:wamid.B"]


async def test_a_telegram_route_refuses_another_bots_secret_token(world: World) -> None:
    bot_a = await world.connect(Channel.TELEGRAM, "7001")
    token_a = routing_secret_token(bot_a.id, "aaaa")
    await (await resolve(world.container.credentials)).put(
        CredentialRef(
            tenant_id=bot_a.tenant_id, integration_id=bot_a.id, name="webhook_secret_token"
        ),
        Secret(token_a),
    )
    bot_b = await world.connect(Channel.TELEGRAM, "7002", tenant="t2")
    token_b = routing_secret_token(bot_b.id, "bbbb")
    await (await resolve(world.container.credentials)).put(
        CredentialRef(
            tenant_id=bot_b.tenant_id, integration_id=bot_b.id, name="webhook_secret_token"
        ),
        Secret(token_b),
    )
    update = json.dumps(
        {
            "update_id": 1,
            "message": {"message_id": 2, "date": 1767225600, "chat": {"id": 9}, "text": "hi"},
        }
    ).encode()

    crossed = await world.client.post(
        f"{ROOT}/telegram/{bot_a.id}", data=update, headers={telegram.HEADER: token_b}
    )
    own = await world.client.post(
        f"{ROOT}/telegram/{bot_a.id}", data=update, headers={telegram.HEADER: token_a}
    )

    assert (crossed.status, own.status) == (401, 200)
    assert await world.events_of("t2") == []
    [event_a] = await world.events_of("t1")
    assert event_a.integration_id == bot_a.id


@pytest.mark.parametrize("signature", ["valid", "missing"])
async def test_deeply_nested_bodies_are_400_or_401_never_500(world: World, signature: str) -> None:
    body = b"[" * 5000 + b"]" * 5000
    headers = signed(body) if signature == "valid" else {}

    response = await world.client.post(f"{ROOT}/whatsapp", data=body, headers=headers)

    assert response.status == (400 if signature == "valid" else 401)
    assert (await response.json())["error"]["code"] in {"invalid_json", "invalid_signature"}


async def test_lone_surrogates_and_nul_characters_are_stored_and_forwardable(world: World) -> None:
    await world.connect(Channel.WHATSAPP, "111")
    surrogate = whatsapp(("111", "wamid.S"), text="broken \ud83d emoji")
    nul = whatsapp(("111", "wamid.\u0000N"))

    answers = [
        await world.client.post(f"{ROOT}/whatsapp", data=body, headers=signed(body))
        for body in (surrogate, nul)
    ]

    assert [a.status for a in answers] == [200, 200]
    events = await world.events_of("t1")
    assert sorted(e.dedupe_key for e in events) == ["111:wamid.S", "111:wamid.\\u0000N"]
    assert all(e.status is DeliveryStatus.PENDING for e in events)
    assert await world.spool_failed() == 0


async def test_one_poisoned_delivery_among_concurrent_ones_changes_no_other_answer(
    world: World,
) -> None:
    await world.connect(Channel.WHATSAPP, "111")
    healthy = [whatsapp(("111", f"wamid.H{n}")) for n in range(8)]
    poisoned = whatsapp(("111", "wamid.P\u0000"), ("\u0000", "wamid.X"))

    answers = await asyncio.gather(
        *(
            world.client.post(f"{ROOT}/whatsapp", data=body, headers=signed(body))
            for body in (*healthy[:4], poisoned, *healthy[4:])
        )
    )

    assert [a.status for a in answers] == [200] * 9
    keys = {e.dedupe_key for e in await world.events_of("t1")}
    assert {f"111:wamid.H{n}" for n in range(8)} <= keys


async def test_an_unverified_request_issues_no_sql_statement(world: World) -> None:
    own = await world.connect(Channel.WHATSAPP, "111", app_secret="own-secret")
    engine = await engine_of(world.container)
    body = json.dumps(
        {
            "entry": [
                {"changes": [{"value": {"metadata": {"phone_number_id": str(n)}}}]}
                for n in range(6500)
            ]
        }
    ).encode()
    # Warm the secrets cache of the own route with one genuine delivery first.
    genuine = whatsapp(("111", "wamid.G"))
    assert (
        await world.client.post(
            f"{ROOT}/whatsapp/{own.id}", data=genuine, headers=signed(genuine, Secret("own-secret"))
        )
    ).status == 200
    inbox = await resolve(world.container.inbox)
    spooled = (await inbox.spool_stats()).pending
    with recorded_statements(engine) as statements:
        forged = signed(body, Secret("forged"))
        shared = await world.client.post(f"{ROOT}/whatsapp", data=body, headers=forged)
        on_own_route = await world.client.post(
            f"{ROOT}/whatsapp/{own.id}", data=body, headers=forged
        )
        malformed_id = await world.client.post(
            f"{ROOT}/whatsapp/int_%00x", data=body, headers=forged
        )

    assert (shared.status, on_own_route.status, malformed_id.status) == (401, 401, 401)
    assert statements == []
    # The spool's append on PostgreSQL is a COPY on psycopg connections SQLAlchemy never sees.
    assert (await inbox.spool_stats()).pending == spooled, "nothing was appended"
