"""Builders for the forwarding end-to-end tests: configuration, integrations, signed deliveries.

Integrations are written straight into the service's database through the SQL store, since
there is no setup API yet; deliveries are signed the way Meta signs them.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters_db import SqlIntegrationStore, create_engine
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.ids import TenantId, new_id
from integration_core.signatures import meta

from .conftest import Service
from .messaging_sink import MessagingSink

TENANT = "tenant-e2e"
PHONE_NUMBER_ID = "1098765432"
WHATSAPP_SECRET = "whatsapp-app-secret-e2e"
JWT_SECRET = "e2e-jwt-secret-" + "x" * 32
ENCRYPTION_KEY = "00" * 32
WHATSAPP_PATH = "/api/v1/integrations/webhooks/whatsapp"

Delivery = tuple[bytes, dict[str, str]]


def service_env(database_url: str, sink: MessagingSink, **extra: str) -> dict[str, str]:
    """Return the environment of a service that forwards to *sink* and trusts our signatures.

    Rate limits are lifted: every request of a test comes from 127.0.0.1, a burst of hundreds
    of deliveries included, and the limits have tests of their own.
    """
    return {
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "MESSAGING_SERVICE_URL": sink.url,
        "MESSAGING_SIGNING_SECRET": sink.signing_secret,
        "WHATSAPP_WEBHOOK_SECRET": WHATSAPP_SECRET,
        "TELEGRAM_WEBHOOK_SECRET": "telegram-secret-e2e",
        "MESSENGER_WEBHOOK_SECRET": "messenger-secret-e2e",
        "INSTAGRAM_WEBHOOK_SECRET": "instagram-secret-e2e",
        "TAWKTO_WEBHOOK_SECRET": "tawkto-secret-e2e",
        "RATE_LIMIT_RPS": "100000",
        "RATE_LIMIT_BURST": "100000",
        "RATE_LIMIT_WEBHOOK_RPS": "100000",
        "RATE_LIMIT_WEBHOOK_BURST": "100000",
        "FORWARD_POLL_INTERVAL": "200ms",
        **extra,
    }


def add_whatsapp_integration(
    database_url: str, phone_number_id: str = PHONE_NUMBER_ID, *, tenant: str = TENANT
) -> str:
    """Store an active WhatsApp integration of *tenant* for *phone_number_id*; its id."""
    now = datetime.now(UTC)
    integration = Integration(
        id=new_id("int"),
        tenant_id=TenantId(tenant),
        channel=Channel.WHATSAPP,
        status=IntegrationStatus.ACTIVE,
        external_id=phone_number_id,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )

    async def add() -> None:
        engine = create_engine(database_url)
        try:
            await SqlIntegrationStore(engine=engine).add(integration)
        finally:
            await engine.dispose()

    asyncio.run(add())
    return integration.id


def whatsapp_delivery(
    messages: Sequence[str] = (),
    statuses: Sequence[str] = (),
    *,
    secret: str = WHATSAPP_SECRET,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> Delivery:
    """Return a signed WhatsApp delivery of text *messages* and *statuses* (by wamid)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": "5491100000000"}]
        value["messages"] = [
            {
                "from": "5491100000000",
                "id": wamid,
                "timestamp": "1767225600",
                "type": "text",
                "text": {"body": f"hola {n}"},
            }
            for n, wamid in enumerate(messages)
        ]
    if statuses:
        value["statuses"] = [
            {
                "id": wamid,
                "status": "delivered",
                "timestamp": "1767225601",
                "recipient_id": "5491100000000",
            }
            for wamid in statuses
        ]
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", meta.HEADER: meta.sign(Secret(secret), body)}
    return body, headers


def wamid() -> str:
    """Return a fresh WhatsApp message id."""
    return f"wamid.{uuid.uuid4().hex}"


def post(service: Service, delivery: Delivery, path: str = WHATSAPP_PATH) -> int:
    """POST *delivery* to *service*; return the status."""
    body, headers = delivery
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}{path}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def post_concurrently(
    port: int,
    deliveries: Sequence[Delivery],
    *,
    concurrency: int = 20,
    on_answer: Callable[[int], None] | None = None,
) -> list[int | None]:
    """POST every delivery to 127.0.0.1:*port*, *concurrency* at a time; each one's status.

    ``None`` is a delivery that got no answer (the service died). *on_answer* is called with
    the number of answers so far, after each one.
    """

    async def send_all() -> list[int | None]:
        statuses: list[int | None] = [None] * len(deliveries)
        answered = 0
        gate = asyncio.Semaphore(concurrency)
        url = f"http://127.0.0.1:{port}{WHATSAPP_PATH}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

            async def send(index: int, delivery: Delivery) -> None:
                nonlocal answered
                async with gate:
                    try:
                        async with session.post(
                            url, data=delivery[0], headers=delivery[1]
                        ) as response:
                            await response.read()
                            statuses[index] = response.status
                    except (aiohttp.ClientError, TimeoutError):
                        return
                answered += 1
                if on_answer is not None:
                    on_answer(answered)

            await asyncio.gather(*(send(i, d) for i, d in enumerate(deliveries)))
        return statuses

    return asyncio.run(send_all())


def list_events(service: Service, token: str, **query: str) -> list[dict[str, Any]]:
    """Return the tenant's events from ``GET /api/v1/events`` (first page of 200)."""
    params = "&".join(f"{k}={v}" for k, v in {"limit": "200", **query}.items())
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}/api/v1/events?{params}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
        return list(json.loads(response.read())["data"])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll *condition* until it holds; fail naming *what* if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.1)


def metric(service: Service, name: str, **labels: str) -> float | None:
    """Return one sample of the service's ``/metrics``, or ``None`` when it is not exported."""
    with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    )
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return None
