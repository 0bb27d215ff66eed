"""Which webhook deliveries count against which rate limit, on a real server.

The per-IP limit refuses a flood before anything is verified; the per-channel limit counts
only deliveries whose signature verified, so unsigned junk cannot starve the platform's
genuine, signed deliveries of their channel's budget.
"""

from __future__ import annotations

from typing import Any

from adapters_http import Rate
from integration_core.channels import Channel

from .conftest import drain_spool
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
# A window of 40 s: long enough that no hit of a test expires before the test ends.
TWO_PER_WINDOW = Rate(rps=0.05, burst=2)
JUNK_HEADERS = {"X-Hub-Signature-256": "sha256=" + "0" * 64}


def signed(wamid: str) -> tuple[bytes, dict[str, str]]:
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message(wamid)])]))
    return body, meta_headers(body)


async def test_a_flood_of_unsigned_junk_leaves_the_channel_budget_to_signed_deliveries(
    make_client: Any, make_services: Any, make_rate_limiter: Any, credentials: Any
) -> None:
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1000, burst=1000), "webhook": TWO_PER_WINDOW})
    services = make_services(rate_limiter=limiter)
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    client = await make_client(services)

    junk = [
        (await client.post(WHATSAPP, data=b'{"junk": %d}' % n, headers=JUNK_HEADERS)).status
        for n in range(10)
    ]
    genuine = []
    for wamid in ("wamid.G1", "wamid.G2"):
        body, headers = signed(wamid)
        genuine.append((await client.post(WHATSAPP, data=body, headers=headers)).status)

    assert junk == [401] * 10, "junk is refused for its signature, never for the rate"
    assert genuine == [200, 200], "the channel's whole budget is still there"
    assert rejected(services, "whatsapp", "invalid_signature") == 10
    assert rejected(services, "whatsapp", "rate_limited") == 0
    assert metric(services, "integration_rate_limited_total", scope="webhook") == 0


async def test_signed_deliveries_over_the_channel_budget_get_429_with_retry_after(
    make_client: Any, make_services: Any, make_rate_limiter: Any, credentials: Any
) -> None:
    limiter = make_rate_limiter(rates={"ip": Rate(rps=1000, burst=1000), "webhook": TWO_PER_WINDOW})
    services = make_services(rate_limiter=limiter)
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    client = await make_client(services)

    statuses = []
    for wamid in ("wamid.A", "wamid.B"):
        body, headers = signed(wamid)
        statuses.append((await client.post(WHATSAPP, data=body, headers=headers)).status)
    body, headers = signed("wamid.C")
    refused = await client.post(WHATSAPP, data=body, headers=headers)
    junk = await client.post(WHATSAPP, data=b"{}", headers=JUNK_HEADERS)

    assert statuses == [200, 200]
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 40
    assert junk.status == 401, "over the channel's budget, junk is still refused as junk"
    assert rejected(services, "whatsapp", "rate_limited") == 1
    assert metric(services, "integration_rate_limited_total", scope="webhook") == 1
    await drain_spool(services)
    stored = await services.events.scan()
    assert sorted(e.data["message"]["id"] for e in stored) == ["wamid.A", "wamid.B"]


async def test_the_per_ip_limit_refuses_junk_before_it_is_verified(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    limiter = make_rate_limiter(rates={"ip": TWO_PER_WINDOW, "webhook": TWO_PER_WINDOW})
    services = make_services(rate_limiter=limiter)
    client = await make_client(services)

    statuses = [
        (await client.post(WHATSAPP, data=b"{}", headers=JUNK_HEADERS)).status for _ in range(4)
    ]

    assert statuses == [401, 401, 429, 429]
    assert rejected(services, "whatsapp", "invalid_signature") == 2
    assert rejected(services, "whatsapp", "rate_limited") == 2
    assert metric(services, "integration_rate_limited_total", scope="ip") == 2
    assert metric(services, "integration_rate_limited_total", scope="webhook") == 0
