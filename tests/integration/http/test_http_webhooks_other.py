"""Tawk.to (HMAC-SHA1, routed by property.id) and our webchat widget (Standard Webhooks, CORS)."""

from __future__ import annotations

from typing import Any

import pytest

from integration_core.channels import Channel, Integration
from integration_core.credentials import Secret
from integration_core.signatures import standard_webhooks, tawkto
from integration_core.testing import FrozenClock

from .conftest import TAWKTO_SECRET
from .http_webhook_support import WEBHOOKS, encode, events_of, integration, seed, split_answer

TAWKTO = f"{WEBHOOKS}/tawkto"
WEBCHAT = f"{WEBHOOKS}/webchat"
ORIGIN = "https://shop.example.com"
SIGNING_SECRET = standard_webhooks.new_secret()


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services(settings={"allowed_origins": (ORIGIN,)})


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


# --------------------------------------------------------------------------- Tawk.to


def chat_start(property_id: str = "prop-1", chat_id: str = "chat-1") -> bytes:
    return encode(
        {
            "event": "chat:start",
            "chatId": chat_id,
            "time": "2026-01-01T00:00:00.000Z",
            "message": {"text": "hello", "type": "msg", "sender": {"type": "visitor"}},
            "visitor": {"name": "Ana", "city": "Rosario", "country": "AR"},
            "property": {"id": property_id, "name": "Shop"},
        }
    )


def tawk_headers(body: bytes, secret: Secret = TAWKTO_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        tawkto.HEADER: tawkto.sign(secret, body),
        "X-Hook-Event-Id": "hook-1",
    }


async def test_tawkto_is_verified_with_sha1_and_routed_by_property(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.TAWKTO, "prop-1"))
    await seed(services, credentials, integration(2, Channel.TAWKTO, "prop-2", tenant="tenant-2"))
    body = chat_start("prop-2")

    response = await client.post(TAWKTO, data=body, headers=tawk_headers(body))

    assert response.status == 200
    assert await events_of(services, "tenant-1") == []
    [event] = await events_of(services, "tenant-2")
    assert event.type == "conversation.started"
    assert event.dedupe_key == "prop-2:hook-1"


async def test_tawkto_retries_share_the_hook_event_id(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.TAWKTO, "prop-1"))
    body = chat_start()

    await client.post(TAWKTO, data=body, headers=tawk_headers(body))
    await split_answer(services)
    again = await client.post(TAWKTO, data=body, headers=tawk_headers(body))

    assert again.status == 200
    assert (await split_answer(services))["duplicates"] == 1


@pytest.mark.parametrize(
    "signature", [None, "0" * 40, "sha256-looking-" + "0" * 49], ids=["missing", "wrong", "bad"]
)
async def test_tawkto_with_a_bad_signature_is_401(
    client: Any, services: Any, credentials: Any, signature: str | None
) -> None:
    await seed(services, credentials, integration(1, Channel.TAWKTO, "prop-1"))
    headers = {} if signature is None else {tawkto.HEADER: signature}

    response = await client.post(TAWKTO, data=chat_start(), headers=headers)

    assert response.status == 401
    assert await events_of(services, "tenant-1") == []


async def test_tawkto_accepts_the_integrations_own_webhook_secret(
    make_client: Any, make_services: Any, credentials: Any
) -> None:
    services = make_services(webhook_secrets={})
    client = await make_client(services)
    connected = await seed(
        services,
        credentials,
        integration(1, Channel.TAWKTO, "prop-1"),
        webhook_secret="property-own-secret",
    )
    body = chat_start()
    signed = tawk_headers(body, Secret("property-own-secret"))

    own = await client.post(f"{TAWKTO}/{connected.id}", data=body, headers=signed)
    # A shared route knows only platform-wide secrets (CONTRACT v2 section 4).
    shared = await client.post(TAWKTO, data=body, headers=signed)
    platform = await client.post(TAWKTO, data=body, headers=tawk_headers(body))

    assert (own.status, shared.status, platform.status) == (200, 401, 401)
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == connected.id


# --------------------------------------------------------------------------- webchat


@pytest.fixture
async def widget(services: Any, credentials: Any) -> Integration:
    return await seed(
        services,
        credentials,
        integration(5, Channel.WEBCHAT, "widget-1"),
        signing_secret=SIGNING_SECRET,
    )


def chat_message(integration_id: str | None = None, message_id: str = "m1") -> bytes:
    document: dict[str, Any] = {
        "conversation_id": "conv-1",
        "sender": {"id": "visitor-1", "name": "Ana"},
        "message": {"id": message_id, "text": "hello \u00e9"},
    }
    if integration_id is not None:
        document["integration_id"] = integration_id
    return encode(document)


def signed(
    body: bytes, clock: FrozenClock, *, msg_id: str = "msg_1", age: int = 0, secret: str = ""
) -> dict[str, str]:
    timestamp = int(clock.now().timestamp()) - age
    headers = standard_webhooks.headers(Secret(secret or SIGNING_SECRET), msg_id, timestamp, body)
    return {"Content-Type": "application/json", **headers}


async def test_webchat_own_secret_is_checked_on_its_own_route_only(
    client: Any, services: Any, widget: Integration, clock: FrozenClock
) -> None:
    body = chat_message(widget.id)

    # The widget's own signing secret is checked on its own route only (CONTRACT v2 section
    # 4): the shared route never reads a body to find whose secret to try.
    response = await client.post(WEBCHAT, data=body, headers=signed(body, clock))
    on_its_route = await client.post(
        f"{WEBCHAT}/{widget.id}", data=body, headers=signed(body, clock)
    )

    assert (response.status, on_its_route.status) == (401, 200)
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == widget.id
    assert event.data["message"]["text"] == "hello \u00e9"


async def test_webchat_routes_by_the_path_id(
    client: Any, services: Any, widget: Integration, clock: FrozenClock
) -> None:
    body = chat_message()

    response = await client.post(f"{WEBCHAT}/{widget.id}", data=body, headers=signed(body, clock))

    assert response.status == 200
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == widget.id


@pytest.mark.parametrize(
    ("age", "secret"),
    [(301, ""), (-301, ""), (0, standard_webhooks.new_secret())],
    ids=["too-old", "too-new", "another-key"],
)
async def test_webchat_refuses_stale_or_foreign_signatures(
    client: Any, services: Any, widget: Integration, clock: FrozenClock, *, age: int, secret: str
) -> None:
    body = chat_message(widget.id)

    response = await client.post(
        WEBCHAT, data=body, headers=signed(body, clock, age=age, secret=secret)
    )

    assert response.status == 401
    assert await events_of(services, "tenant-1") == []


async def test_webchat_without_signature_headers_is_401(client: Any, widget: Integration) -> None:
    response = await client.post(f"{WEBCHAT}/{widget.id}", data=chat_message())

    assert response.status == 401


async def test_a_webchat_preflight_from_an_allowed_origin_allows_the_signature_headers(
    client: Any, widget: Integration
) -> None:
    response = await client.options(
        f"{WEBCHAT}/{widget.id}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": (
                "content-type, webhook-id, webhook-timestamp, webhook-signature"
            ),
        },
    )

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"content-type", "webhook-id", "webhook-timestamp", "webhook-signature"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_a_webchat_post_from_an_allowed_origin_is_readable_by_the_page(
    client: Any, widget: Integration, clock: FrozenClock
) -> None:
    body = chat_message()

    accepted = await client.post(
        f"{WEBCHAT}/{widget.id}", data=body, headers={"Origin": ORIGIN, **signed(body, clock)}
    )
    refused = await client.post(f"{WEBCHAT}/{widget.id}", data=body, headers={"Origin": ORIGIN})

    assert accepted.status == 200
    assert accepted.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert refused.status == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


async def test_a_webchat_post_from_another_origin_is_not_labelled(
    client: Any, widget: Integration, clock: FrozenClock
) -> None:
    body = chat_message()

    response = await client.post(
        f"{WEBCHAT}/{widget.id}",
        data=body,
        headers={"Origin": "https://evil.example.net", **signed(body, clock)},
    )

    assert "Access-Control-Allow-Origin" not in response.headers
