"""Build events and deliveries for the EventStore contract suites."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from integration_core.channels import Channel
from integration_core.events import EventRecord, EventType
from integration_core.ids import TenantId, new_id
from integration_core.ports import EventStore
from integration_core.webhooks import InboundEvent

T0 = datetime(2026, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
LEASE = timedelta(seconds=30)
ALICE = TenantId("alice")
BOB = TenantId("bob")


def make_event(**overrides: Any) -> EventRecord:
    """Return a pending WhatsApp message of Alice received at T0, with *overrides*."""
    values: dict[str, Any] = {
        "id": new_id("evt"),
        "channel": Channel.WHATSAPP,
        "dedupe_key": f"wamid.{uuid.uuid4().hex}",
        "type": EventType.MESSAGE_RECEIVED,
        "tenant_id": ALICE,
        "integration_id": "int_1",
        "occurred_at": T0 - timedelta(seconds=1),
        "received_at": T0,
        "data": {"message": {"id": "m1", "text": "hola ☕", "n": 2**53, "ok": True, "x": None}},
    }
    values.update(overrides)
    return EventRecord(**values)


def make_inbound(**overrides: Any) -> InboundEvent:
    """Return a raw WhatsApp delivery received at T0."""
    values: dict[str, Any] = {
        "id": new_id("inb"),
        "channel": Channel.WHATSAPP,
        "received_at": T0,
        "body": b'{"entry": []}\x00\xff',
        "headers": {"x-hub-signature-256": "sha256=abc", "content-type": "application/json"},
        "query": {"a": "1"},
    }
    values.update(overrides)
    return InboundEvent(**values)


async def add_events(store: EventStore, *events: EventRecord) -> None:
    """Record *events*, asserting they are all new."""
    assert await store.record(None, events) == (True,) * len(events)
