"""Meta webhooks (WhatsApp, Messenger, Instagram): the GET handshake and signed deliveries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from integration_core.channels import Channel, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.events import DeliveryStatus, EventType

from .conftest import VERIFY_TOKEN
from .http_webhook_support import (
    WEBHOOKS,
    encode,
    events_of,
    integration,
    messaging,
    meta_headers,
    metric,
    outcome,
    rejected,
    seed,
    split_answer,
    status,
    text_message,
    whatsapp,
    whatsapp_change,
)

WHATSAPP = f"{WEBHOOKS}/whatsapp"
META_CHANNELS = ["whatsapp", "messenger", "instagram"]


def handshake(
    token: str = VERIFY_TOKEN.reveal(), *, without: str = "", **overrides: str
) -> dict[str, str]:
    """Return the query of Meta's setup GET, minus the parameter *without*."""
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": token,
        "hub.challenge": "1158201444",
        **overrides,
    }
    return {k: v for k, v in query.items() if k != without}


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services()


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


# --------------------------------------------------------------------------- handshake


@pytest.mark.parametrize("channel", META_CHANNELS)
async def test_the_handshake_echoes_the_bare_challenge(client: Any, channel: str) -> None:
    # No signature header: the GET must never run the delivery signature check.
    response = await client.get(f"{WEBHOOKS}/{channel}", params=handshake())

    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "1158201444"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_handshake_works_with_a_trailing_slash(client: Any) -> None:
    response = await client.get(f"{WHATSAPP}/", params=handshake())

    assert response.status == 200
    assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        handshake(token="wrong-token"),
        handshake(**{"hub.mode": "unsubscribe"}),
        handshake(without="hub.verify_token"),
        handshake(without="hub.mode"),
        handshake(without="hub.challenge"),
        {},
    ],
    ids=["wrong-token", "wrong-mode", "no-token", "no-mode", "no-challenge", "nothing"],
)
async def test_a_bad_handshake_is_403_verification_failed(
    client: Any, query: dict[str, str]
) -> None:
    with capture_logs() as logs:
        response = await client.get(WHATSAPP, params=query)

    assert response.status == 403
    error = (await response.json())["error"]
    assert error["code"] == "verification_failed"
    assert error["request_id"] == response.headers["X-Request-ID"]
    [line] = [e for e in logs if e["event"] == "webhook_verification_failed"]
    assert line["channel"] == "whatsapp"
    assert "wrong-token" not in repr(logs)


async def test_a_channel_without_a_verify_token_refuses_every_handshake(
    make_client: Any, make_services: Any
) -> None:
    client = await make_client(make_services(verify_tokens={}))

    response = await client.get(WHATSAPP, params=handshake())

    assert response.status == 403


async def test_verify_tokens_rotate(make_client: Any, make_services: Any) -> None:
    tokens = (Secret("new-verify-token"), Secret("old-verify-token"))
    client = await make_client(make_services(verify_tokens={Channel.MESSENGER: tokens}))

    for token in ("new-verify-token", "old-verify-token"):
        response = await client.get(f"{WEBHOOKS}/messenger", params=handshake(token=token))
        assert response.status == 200, token
    assert (await client.get(WHATSAPP, params=handshake())).status == 403, "per channel"


async def test_a_handshake_is_not_a_delivery(client: Any, services: Any) -> None:
    await client.get(WHATSAPP, params=handshake(token="wrong"))

    assert metric(services, "integration_webhooks_received_total", channel="whatsapp") == 0


# --------------------------------------------------------------------------- deliveries


async def test_a_signed_batch_stores_every_item_for_its_tenant(
    client: Any, services: Any, credentials: Any, token_for: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    await seed(services, credentials, integration(2, Channel.WHATSAPP, "222", tenant="tenant-2"))
    body = encode(
        whatsapp(
            [
                whatsapp_change(
                    "111",
                    messages=[text_message("wamid.A1"), text_message("wamid.A2")],
                    statuses=[status("wamid.OUT1", "sent")],
                ),
                whatsapp_change("222", messages=[text_message("wamid.B1")]),
            ],
            [whatsapp_change("111", statuses=[status("wamid.OUT1"), status("wamid.OUT2", "read")])],
        )
    )

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 200
    assert response.content_type == "application/json"
    assert (await response.json())["received"] is True
    assert await split_answer(services) == {"received": 6, "duplicates": 0, "ignored": 0}
    mine = await events_of(services, "tenant-1")
    theirs = await events_of(services, "tenant-2")
    assert sorted(e.dedupe_key for e in mine) == [
        "111:wamid.A1",
        "111:wamid.A2",
        "111:wamid.OUT1:delivered",
        "111:wamid.OUT1:sent",
        "111:wamid.OUT2:read",
    ]
    assert [e.dedupe_key for e in theirs] == ["222:wamid.B1"]
    assert all(e.status is DeliveryStatus.PENDING for e in mine + theirs)
    assert sum(e.type is EventType.MESSAGE_STATUS for e in mine) == 3
    # ...and the tenant sees its own through the events API.
    listed = await client.get(
        "/api/v1/events",
        headers={"Authorization": f"Bearer {token_for('events:read')}"},
    )
    assert {e["id"] for e in (await listed.json())["data"]} == {e.id for e in mine}
    assert outcome(services, "whatsapp", "stored") == 6


async def test_the_signature_covers_metas_escaped_raw_bytes(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    text = "caf\u00e9 \U0001f600 https://example.com/a/b"
    document = whatsapp([whatsapp_change("111", messages=[text_message("wamid.E", text)])])
    # Meta escapes non-ASCII as \uXXXX and "/" as "\/"; re-serializing would change the bytes.
    body = json.dumps(document).replace("/", "\\/").encode("ascii")
    assert b"\\u00e9" in body
    assert b"\\ud83d\\ude00" in body
    assert b"\\/" in body

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 200
    [event] = await events_of(services, "tenant-1")
    assert event.data["message"]["text"] == text


async def test_a_repeated_delivery_is_200_and_stores_nothing_new(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.R")])]))

    first = await client.post(WHATSAPP, data=body, headers=meta_headers(body))
    await split_answer(services)
    again = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert (first.status, again.status) == (200, 200)
    assert await split_answer(services) == {"received": 1, "duplicates": 1, "ignored": 0}
    assert len(await events_of(services, "tenant-1")) == 1
    assert outcome(services, "whatsapp", "duplicate") == 1


async def test_concurrent_repeats_store_each_item_exactly_once(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(
        whatsapp([whatsapp_change("111", messages=[text_message(f"wamid.C{i}") for i in range(3)])])
    )

    responses = await asyncio.gather(
        *(client.post(WHATSAPP, data=body, headers=meta_headers(body)) for _ in range(10))
    )

    assert [r.status for r in responses] == [200] * 10
    assert len({(await r.json())["delivery_id"] for r in responses}) == 10, "each one spooled"
    assert await split_answer(services) == {"received": 30, "duplicates": 27, "ignored": 0}
    assert sorted(e.dedupe_key for e in await events_of(services, "tenant-1")) == [
        "111:wamid.C0",
        "111:wamid.C1",
        "111:wamid.C2",
    ]


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha1=abc",
        "meta-app-secret-current",
    ],
    ids=["missing", "empty", "wrong-digest", "wrong-scheme", "the-secret-itself"],
)
async def test_a_bad_signature_is_401_and_stores_nothing(
    client: Any, services: Any, credentials: Any, signature: str | None
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.X")])]))
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature

    response = await client.post(WHATSAPP, data=body, headers=headers)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_signature"
    assert await events_of(services, "tenant-1") == []
    assert rejected(services, "whatsapp", "invalid_signature") == 1


async def test_a_body_signed_with_another_key_is_401(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.X")])]))

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body, Secret("x")))

    assert response.status == 401


async def test_a_verified_body_that_is_not_json_is_400_invalid_json(
    client: Any, services: Any
) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": ['

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    assert rejected(services, "whatsapp", "malformed") == 1


async def test_storage_down_is_503_with_retry_after_and_nothing_is_acknowledged(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.S")])]))
    services.events.available = False

    responses = await asyncio.gather(
        *(client.post(WHATSAPP, data=body, headers=meta_headers(body)) for _ in range(3))
    )

    assert [r.status for r in responses] == [503] * 3
    for response in responses:
        assert int(response.headers["Retry-After"]) >= 1
        assert (await response.json())["error"]["code"] == "storage_unavailable"
    services.events.available = True
    assert await events_of(services, "tenant-1") == []
    assert rejected(services, "whatsapp", "storage_unavailable") == 3
    # The platform's retry, once storage is back, is stored as new.
    retry = await client.post(WHATSAPP, data=body, headers=meta_headers(body))
    assert retry.status == 200
    assert await split_answer(services) == {"received": 1, "duplicates": 0, "ignored": 0}


async def test_an_unroutable_event_is_200_recorded_as_ignored_and_counted(
    client: Any, services: Any
) -> None:
    body = encode(whatsapp([whatsapp_change("999", messages=[text_message("wamid.U")])]))

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))
    first = await split_answer(services)
    again = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert (response.status, again.status) == (200, 200)
    assert first == {"received": 1, "duplicates": 0, "ignored": 1}
    # Stored: the repeat is recognised as one.
    assert await split_answer(services) == {"received": 1, "duplicates": 1, "ignored": 0}
    assert (await services.events.stats()).pending == 0, "never forwarded"
    outcomes = {
        name: outcome(services, "whatsapp", name)
        for name in ("stored", "duplicate", "ignored", "unroutable")
    }
    assert outcomes == {"stored": 0, "duplicate": 1, "ignored": 0, "unroutable": 1}


async def test_an_event_of_a_disabled_integration_is_200_and_ignored(
    client: Any, services: Any, credentials: Any
) -> None:
    disabled = integration(1, Channel.WHATSAPP, "111", status=IntegrationStatus.DISABLED)
    await seed(services, credentials, disabled)
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.D")])]))

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 200
    assert await split_answer(services) == {"received": 1, "duplicates": 0, "ignored": 1}
    [event] = await events_of(services, "tenant-1")
    assert event.status is DeliveryStatus.IGNORED
    assert outcome(services, "whatsapp", "ignored") == 1


async def test_old_and_new_platform_secrets_are_both_accepted(
    make_client: Any, make_services: Any, credentials: Any
) -> None:
    old, new = Secret("app-secret-old"), Secret("app-secret-new")
    services = make_services(webhook_secrets={Channel.WHATSAPP: (new, old)})
    client = await make_client(services)
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))

    statuses = []
    for n, secret in enumerate((old, new, Secret("app-secret-unknown"))):
        body = encode(whatsapp([whatsapp_change("111", messages=[text_message(f"wamid.{n}")])]))
        response = await client.post(WHATSAPP, data=body, headers=meta_headers(body, secret))
        statuses.append(response.status)

    assert statuses == [200, 200, 401]


async def test_an_integrations_own_app_secret_is_accepted_on_its_own_route_only(
    make_client: Any, make_services: Any, credentials: Any
) -> None:
    services = make_services(webhook_secrets={})
    client = await make_client(services)
    own = await seed(
        services, credentials, integration(1, Channel.WHATSAPP, "111"), app_secret="own-secret"
    )
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.O")])]))
    signed = meta_headers(body, Secret("own-secret"))

    accepted = await client.post(f"{WHATSAPP}/{own.id}", data=body, headers=signed)
    # CONTRACT v2 section 4: a shared route knows only platform-wide secrets (it never reads
    # the body to find whose secret to try).
    on_the_shared_route = await client.post(WHATSAPP, data=body, headers=signed)
    refused = await client.post(f"{WHATSAPP}/{own.id}", data=body, headers=meta_headers(body))

    assert (accepted.status, on_the_shared_route.status, refused.status) == (200, 401, 401)
    [event] = await events_of(services, "tenant-1")
    assert event.integration_id == own.id


@pytest.mark.parametrize(
    ("channel", "object_name"), [("messenger", "page"), ("instagram", "instagram")]
)
async def test_messenger_and_instagram_route_by_the_entry_id(
    client: Any, services: Any, credentials: Any, channel: str, object_name: str
) -> None:
    await seed(services, credentials, integration(1, Channel(channel), "page-1"))
    body = encode(messaging(object_name, "page-1", "mid.1"))

    response = await client.post(f"{WEBHOOKS}/{channel}/", data=body, headers=meta_headers(body))

    assert response.status == 200
    [event] = await events_of(services, "tenant-1")
    assert event.channel is Channel(channel)
    assert event.data["message"]["id"] == "mid.1"


async def test_a_statuses_only_delivery_is_200(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", statuses=[status("wamid.Q", "read")])]))

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 200
    assert (await response.json())["received"] == 1


async def test_a_played_status_signed_with_the_own_secret_is_200_and_forwarded(
    make_client: Any, make_services: Any, credentials: Any
) -> None:
    # Issue 13: the own secret used to be tried only after normalizing, and a state the
    # normalizer did not know gave nothing to route by: 401 for a genuine delivery.
    services = make_services(webhook_secrets={})
    client = await make_client(services)
    own = await seed(
        services, credentials, integration(1, Channel.WHATSAPP, "111"), app_secret="own-secret"
    )
    body = encode(whatsapp([whatsapp_change("111", statuses=[status("wamid.V", "played")])]))

    response = await client.post(
        f"{WHATSAPP}/{own.id}", data=body, headers=meta_headers(body, Secret("own-secret"))
    )

    assert response.status == 200
    [event] = await events_of(services, "tenant-1")
    assert event.type is EventType.MESSAGE_STATUS
    assert event.data["status"]["state"] == "played"
    assert event.status is DeliveryStatus.PENDING
