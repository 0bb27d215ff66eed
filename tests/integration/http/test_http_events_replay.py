"""Replaying one event through the API, optionally rebuilt from its raw delivery (the CLI's
``--renormalize``, through the same core use case)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.events import DeliveryStatus
from integration_core.ids import TenantId

from .http_webhook_support import (
    encode,
    events_of,
    integration,
    meta_headers,
    seed,
    text_message,
    whatsapp,
    whatsapp_change,
)

WHATSAPP = "/api/v1/integrations/webhooks/whatsapp"


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services()


@pytest.fixture
async def client(make_client: Any, services: Any) -> Any:
    return await make_client(services)


async def _one_event(client: Any, services: Any, credentials: Any) -> Any:
    await seed(services, credentials, integration(1, Channel.WHATSAPP, "111"))
    body = encode(whatsapp([whatsapp_change("111", messages=[text_message("wamid.R", "hola")])]))
    assert (await client.post(WHATSAPP, data=body, headers=meta_headers(body))).status == 200
    [event] = await events_of(services, "tenant-1")
    return event


async def test_renormalize_rebuilds_the_payload_from_the_raw_delivery(
    client: Any, services: Any, credentials: Any, token_for: Callable[..., str]
) -> None:
    event = await _one_event(client, services, credentials)
    # As an older normalizer might have stored it.
    stale = {"message": {**event.data["message"], "text": "garbled"}}
    await services.events.requeue(TenantId("tenant-1"), event.id, at=event.received_at, data=stale)
    auth = {"Authorization": f"Bearer {token_for('events:write', tenant='tenant-1')}"}

    kept = await client.post(f"/api/v1/events/{event.id}/replay", headers=auth)
    assert kept.status == 202
    assert (await services.events.get(TenantId("tenant-1"), event.id)).data == stale

    rebuilt = await client.post(f"/api/v1/events/{event.id}/replay?renormalize=true", headers=auth)
    assert rebuilt.status == 202
    stored = await services.events.get(TenantId("tenant-1"), event.id)
    assert stored.data == event.data
    assert stored.status is DeliveryStatus.PENDING
    assert (await rebuilt.json())["id"] == event.id


async def test_renormalize_takes_only_true_or_false(
    client: Any, services: Any, credentials: Any, token_for: Callable[..., str]
) -> None:
    event = await _one_event(client, services, credentials)
    auth = {"Authorization": f"Bearer {token_for('events:write', tenant='tenant-1')}"}

    response = await client.post(f"/api/v1/events/{event.id}/replay?renormalize=yes", headers=auth)

    assert response.status == 400
    assert "renormalize must be one of: true, false" in (await response.json())["error"]["message"]
