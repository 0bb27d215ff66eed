"""What refuses a webhook before it is verified (size, rate), and what every refusal leaves:
a metric, one log line without secrets, and the right status for the platform to retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters_http import Rate
from integration_core.channels import Channel

from .conftest import META_APP_SECRET, drain_spool
from .http_webhook_support import (
    WEBHOOKS,
    encode,
    integration,
    meta_headers,
    metric,
    rejected,
    seed,
    text_message,
    whatsapp,
    whatsapp_change,
)

WHATSAPP = f"{WEBHOOKS}/whatsapp"
LIMIT = 2048


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services(settings={"max_body_bytes": LIMIT})


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


async def raw_exchange(client: Any, head: bytes, *parts: bytes) -> bytes:
    """Send *head* and *parts* on a raw connection that never finishes its body.

    Return the response's status line: an answer can only come from a server that refused
    the body without waiting for the rest of it.
    """
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head)
        for part in parts:
            writer.write(part)
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()
    return status_line


async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    client: Any, services: Any
) -> None:
    head = (
        f"POST {WHATSAPP} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    ).encode()

    status_line = await raw_exchange(client, head, b'{"object":')

    assert status_line.startswith(b"HTTP/1.1 413")
    assert rejected(services, "whatsapp", "too_large") == 1
    assert metric(services, "integration_webhooks_received_total", channel="whatsapp") == 1


async def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit(
    client: Any, services: Any
) -> None:
    head = (
        f"POST {WEBHOOKS}/tawkto HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"x" * (LIMIT + 1)

    # One chunk over the limit, and no terminating chunk: the server must not wait for it.
    status_line = await raw_exchange(client, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    assert status_line.startswith(b"HTTP/1.1 413")
    assert rejected(services, "tawkto", "too_large") == 1


async def test_a_chunked_body_over_the_limit_is_413_for_a_normal_client(client: Any) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * (LIMIT // 2)

    response = await client.post(WHATSAPP, data=body())

    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_a_signed_body_at_the_limit_is_accepted(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    document = whatsapp([whatsapp_change("111", messages=[text_message("wamid.L", "")])])
    bare = encode(document)
    document["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "a" * (
        LIMIT - len(bare)
    )
    body = encode(document)
    assert len(body) == LIMIT

    response = await client.post(WHATSAPP, data=body, headers=meta_headers(body))

    assert response.status == 200
    assert metric(services, "integration_webhook_payload_bytes_sum", channel="whatsapp") == LIMIT


async def test_each_channel_has_its_own_rate_and_429_says_when_to_retry(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    limiter = make_rate_limiter(
        rates={"ip": Rate(rps=1000, burst=1000), "webhook": Rate(rps=1, burst=2)}
    )
    services = make_services(rate_limiter=limiter)
    client = await make_client(services)
    body = encode(whatsapp([whatsapp_change("999", messages=[text_message("wamid.R")])]))

    statuses = [
        (await client.post(WHATSAPP, data=body, headers=meta_headers(body))).status
        for _ in range(2)
    ]
    refused = await client.post(WHATSAPP, data=body, headers=meta_headers(body))
    other = await client.post(f"{WEBHOOKS}/messenger", data=b"{}", headers=meta_headers(b"{}"))

    assert statuses == [200, 200]
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert other.status == 200, "messenger has its own budget"
    assert metric(services, "integration_rate_limited_total", scope="webhook") == 1
    assert rejected(services, "whatsapp", "rate_limited") == 1


async def test_the_per_ip_limit_also_counts_as_a_rejected_delivery(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    services = make_services(rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=1)}))
    client = await make_client(services)

    await client.post(f"{WEBHOOKS}/telegram", data=b"{}")
    refused = await client.post(f"{WEBHOOKS}/telegram", data=b"{}")

    assert refused.status == 429
    assert rejected(services, "telegram", "rate_limited") == 1


async def test_metrics_are_exposed_and_start_at_zero(
    client: Any, services: Any, credentials: Any
) -> None:
    before = await (await client.get("/metrics")).text()
    for line in (
        'integration_webhooks_received_total{channel="webchat"} 0.0',
        'integration_webhook_events_total{channel="tawkto",outcome="unroutable"} 0.0',
        'integration_webhooks_rejected_total{channel="instagram",reason="storage_unavailable"} 0.0',
        'integration_webhook_payload_bytes_bucket{channel="telegram",le="1.048576e+06"} 0.0',
    ):
        assert line in before, line
    body = encode(whatsapp([whatsapp_change("999", messages=[text_message("wamid.M")])]))

    await client.post(WHATSAPP, data=body, headers=meta_headers(body))
    await client.post(WHATSAPP, data=body, headers={"X-Hub-Signature-256": "sha256=00"})
    await drain_spool(services)  # the worker stage counts what became of the events
    after = await (await client.get("/metrics")).text()

    assert 'integration_webhooks_received_total{channel="whatsapp"} 2.0' in after
    assert 'integration_webhook_events_total{channel="whatsapp",outcome="unroutable"} 1.0' in after
    assert (
        'integration_webhooks_rejected_total{channel="whatsapp",reason="invalid_signature"} 1.0'
        in after
    )
    assert 'integration_webhook_payload_bytes_count{channel="whatsapp"} 2.0' in after


async def test_each_rejection_logs_one_line_without_body_signature_or_secret(
    client: Any, services: Any, credentials: Any
) -> None:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(
        whatsapp([whatsapp_change("111", messages=[text_message("wamid.P", "private words")])])
    )
    signature = "sha256=" + "ab" * 32

    with capture_logs() as logs:
        response = await client.post(
            WHATSAPP,
            data=body,
            headers={"X-Hub-Signature-256": signature, "X-Request-ID": "req-42"},
        )

    assert response.status == 401
    [line] = [e for e in logs if e["event"] == "webhook_rejected"]
    assert line["channel"] == "whatsapp"
    assert line["reason"] == "invalid_signature"
    assert line["request_id"] == "req-42"
    assert line["status"] == 401
    assert line["log_level"] == "warning"
    everything = repr(logs)
    for leaked in ("private words", "ab" * 32, META_APP_SECRET.reveal()):
        assert leaked not in everything


async def test_a_telegram_token_never_reaches_the_log(
    client: Any, services: Any, credentials: Any
) -> None:
    with capture_logs() as logs:
        await client.post(
            f"{WEBHOOKS}/telegram",
            data=b'{"update_id": 1}',
            headers={"X-Telegram-Bot-Api-Secret-Token": "int_1-super-secret-token-value"},
        )

    assert [e["reason"] for e in logs if e["event"] == "webhook_rejected"] == ["invalid_signature"]
    assert "super-secret-token-value" not in repr(logs)
