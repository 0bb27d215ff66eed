"""Telegram updates: routed by the secret token or the path id, refused without the token."""

from __future__ import annotations

from typing import Any

import pytest

from integration_core.channels import Channel, Integration
from integration_core.webhooks import routing_secret_token

from .http_webhook_support import (
    WEBHOOKS,
    encode,
    events_of,
    integration,
    rejected,
    seed,
    split_answer,
)

TELEGRAM = f"{WEBHOOKS}/telegram"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def update(update_id: int = 10, text: str = "hi") -> bytes:
    return encode(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id + 100,
                "date": 1767225600,
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
                "text": text,
            },
        }
    )


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services()


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


@pytest.fixture
async def bot(services: Any, credentials: Any) -> Integration:
    connected = integration(3, Channel.TELEGRAM, "7000001")
    token = routing_secret_token(connected.id, "r4nd0mPart")
    return await seed(services, credentials, connected, webhook_secret_token=token)


def token_of(bot: Integration) -> str:
    return routing_secret_token(bot.id, "r4nd0mPart")


async def test_the_shared_url_routes_by_the_secret_token(
    client: Any, services: Any, bot: Integration
) -> None:
    response = await client.post(TELEGRAM, data=update(), headers={HEADER: token_of(bot)})

    assert response.status == 200
    assert await split_answer(services) == {"received": 1, "duplicates": 0, "ignored": 0}
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == bot.id
    assert event.data["message"]["recipient"]["id"] == "7000001"


async def test_the_per_integration_url_routes_by_the_path(
    client: Any, services: Any, bot: Integration
) -> None:
    response = await client.post(
        f"{TELEGRAM}/{bot.id}", data=update(), headers={HEADER: token_of(bot)}
    )

    assert response.status == 200
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == bot.id


async def test_the_same_update_through_both_urls_is_one_event(
    client: Any, services: Any, bot: Integration
) -> None:
    first = await client.post(TELEGRAM, data=update(), headers={HEADER: token_of(bot)})
    await split_answer(services)
    second = await client.post(
        f"{TELEGRAM}/{bot.id}/", data=update(), headers={HEADER: token_of(bot)}
    )

    assert (first.status, second.status) == (200, 200)
    assert (await split_answer(services))["duplicates"] == 1
    assert len(await events_of(services, "tenant-1")) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HEADER: ""},
        {HEADER: "int_00000000000000000000000003-wrongPart"},
        {HEADER: "r4nd0mPart"},
    ],
    ids=["missing", "empty", "wrong-random-part", "random-part-alone"],
)
@pytest.mark.parametrize("by_path", [False, True], ids=["shared", "path"])
async def test_a_wrong_or_missing_token_is_401_and_stores_nothing(
    client: Any, services: Any, bot: Integration, headers: dict[str, str], by_path: bool
) -> None:
    url = f"{TELEGRAM}/{bot.id}" if by_path else TELEGRAM

    response = await client.post(url, data=update(), headers=headers)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_signature"
    assert await events_of(services, "tenant-1") == []
    assert rejected(services, "telegram", "invalid_signature") == 1


async def test_an_unknown_path_id_is_401(client: Any, bot: Integration) -> None:
    response = await client.post(
        f"{TELEGRAM}/int_99999999999999999999999999", data=update(), headers={}
    )

    assert response.status == 401


async def test_one_bots_token_does_not_open_another_bots_url(
    client: Any, services: Any, credentials: Any, bot: Integration
) -> None:
    other = integration(4, Channel.TELEGRAM, "7000002", tenant="tenant-2")
    await seed(
        services, credentials, other, webhook_secret_token=routing_secret_token(other.id, "x")
    )

    response = await client.post(
        f"{TELEGRAM}/{other.id}", data=update(), headers={HEADER: token_of(bot)}
    )

    # The path is authoritative (CONTRACT v2 section 4): only its bot's token opens it.
    assert response.status == 401
    assert await events_of(services, "tenant-2") == []
    assert await events_of(services, "tenant-1") == []
