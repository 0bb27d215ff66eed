"""Builders shared by the webhook tests: integrations, platform payloads, signatures, reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters_http import HttpServices
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import CredentialRef, Secret
from integration_core.events import EventRecord
from integration_core.ids import TenantId
from integration_core.signatures import meta
from integration_core.testing import FrozenClock, InMemoryCredentialStore

from .conftest import META_APP_SECRET, drain_spool

WEBHOOKS = "/api/v1/integrations/webhooks"


def integration(
    n: int,
    channel: Channel,
    external_id: str,
    *,
    tenant: str = "tenant-1",
    status: IntegrationStatus = IntegrationStatus.ACTIVE,
    clock: FrozenClock | None = None,
) -> Integration:
    """Return integration number *n* (its id sorts by *n*) of *tenant*."""
    at = (clock or FrozenClock()).now()
    return Integration(
        id=f"int_{n:026d}",
        tenant_id=TenantId(tenant),
        channel=channel,
        status=status,
        external_id=external_id,
        created_at=at,
        updated_at=at,
        status_changed_at=at,
    )


async def seed(
    services: HttpServices,
    credentials: InMemoryCredentialStore,
    connected: Integration,
    **secrets: str,
) -> Integration:
    """Store *connected* and its own secrets (``app_secret=...``, ``signing_secret=...``)."""
    await services.integrations.add(connected)
    for name, value in secrets.items():
        ref = CredentialRef(tenant_id=connected.tenant_id, integration_id=connected.id, name=name)
        await credentials.put(ref, Secret(value))
    return connected


async def events_of(services: HttpServices, tenant: str) -> list[EventRecord]:
    """Split what the intake spooled (as the worker does), then return every event of
    *tenant*, paging through the store."""
    await drain_spool(services)
    found: list[EventRecord] = []
    cursor: str | None = None
    while True:
        page = await services.events.list(TenantId(tenant), limit=200, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


async def split_answer(services: HttpServices) -> dict[str, int]:
    """Split what is spooled and say what became of its events, as the request used to answer:
    ``received`` (stored now or before), ``duplicates`` (stored before), ``ignored``."""
    outcomes = [o for report in await drain_spool(services) for o in report.outcomes]
    return {
        "received": sum(o.stored + o.duplicates for o in outcomes),
        "duplicates": sum(o.duplicates for o in outcomes),
        "ignored": sum(o.ignored for o in outcomes),
    }


def metric(services: HttpServices, name: str, **labels: str) -> float:
    """Return a sample of the service's registry (0 when absent)."""
    return services.registry.get_sample_value(name, labels) or 0.0


def rejected(services: HttpServices, channel: str, reason: str) -> float:
    """Return ``integration_webhooks_rejected_total`` of *channel* and *reason*."""
    return metric(services, "integration_webhooks_rejected_total", channel=channel, reason=reason)


def outcome(services: HttpServices, channel: str, outcome: str) -> float:
    """Return ``integration_webhook_events_total`` of *channel* and *outcome*."""
    return metric(services, "integration_webhook_events_total", channel=channel, outcome=outcome)


def meta_headers(body: bytes, secret: Secret = META_APP_SECRET) -> dict[str, str]:
    """Return the headers Meta sends with *body*, signed with *secret*."""
    return {"Content-Type": "application/json", meta.HEADER: meta.sign(secret, body)}


def text_message(wamid: str, text: str = "hola", sender: str = "5491100000000") -> dict[str, Any]:
    """Return one inbound WhatsApp text message."""
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1767225600",
        "type": "text",
        "text": {"body": text},
    }


def status(wamid: str, state: str = "delivered") -> dict[str, Any]:
    """Return one WhatsApp status of an outbound message."""
    return {
        "id": wamid,
        "status": state,
        "timestamp": "1767225601",
        "recipient_id": "5491100000000",
    }


def whatsapp_change(
    phone_number_id: str,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return one ``messages`` change for the number *phone_number_id*."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": "5491100000000"}]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def whatsapp(*entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a WhatsApp delivery with one entry per list of changes."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": f"waba-{i}", "changes": changes} for i, changes in enumerate(entries)],
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """Return *document* as compact JSON bytes."""
    return json.dumps(document, separators=(",", ":")).encode()


def messaging(object_name: str, account: str, mid: str, text: str = "hi") -> dict[str, Any]:
    """Return a Messenger (``page``) or Instagram (``instagram``) delivery of one message."""
    return {
        "object": object_name,
        "entry": [
            {
                "id": account,
                "time": 1767225600000,
                "messaging": [
                    {
                        "sender": {"id": "user-1"},
                        "recipient": {"id": account},
                        "timestamp": 1767225600000,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
