"""Map event and raw-delivery rows to domain values and back, for :mod:`adapters_db.events`.

Spelled out column by column on purpose: a column added to the table without a mapping here
fails the contract tests instead of being silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from integration_core.channels import Channel
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId
from integration_core.webhooks import InboundEvent


def event_to_row(event: EventRecord, *, held_until: datetime | None = None) -> dict[str, Any]:
    """Return *event*'s row; one that carries a lease token is stored held until *held_until*
    (its splitter forwards it itself, see :meth:`EventInbox.complete`)."""
    held = event.lease_token is not None and held_until is not None
    return {
        "id": event.id,
        "channel": event.channel.value,
        "dedupe_key": event.dedupe_key,
        "type": event.type.value,
        "tenant_id": event.tenant_id,
        "integration_id": event.integration_id,
        "inbound_id": event.inbound_id,
        "status": event.status.value,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at,
        "lease_expires_at": held_until if held else None,
        "lease_token": event.lease_token if held else None,
        "last_error": event.last_error,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "delivered_at": event.delivered_at,
        "data": dict(event.data),
    }


def row_to_event(row: RowMapping) -> EventRecord:
    tenant_id = row["tenant_id"]
    return EventRecord(
        id=row["id"],
        channel=Channel(row["channel"]),
        dedupe_key=row["dedupe_key"],
        type=EventType(row["type"]),
        tenant_id=None if tenant_id is None else TenantId(tenant_id),
        integration_id=row["integration_id"],
        inbound_id=row["inbound_id"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        occurred_at=row["occurred_at"],
        received_at=row["received_at"],
        delivered_at=row["delivered_at"],
        data=row["data"],
        lease_token=row["lease_token"],
    )


def inbound_to_row(inbound: InboundEvent, *, state: str = "processed") -> dict[str, Any]:
    """Return the row of a raw delivery: ``pending`` when spooled, ``processed`` when its
    events are stored with it."""
    return {
        "id": inbound.id,
        "channel": inbound.channel.value,
        "received_at": inbound.received_at,
        "body": inbound.body,
        "headers": dict(inbound.headers),
        "query": dict(inbound.query),
        "integration_id": inbound.integration_id,
        "verified_by": inbound.verified_by,
        "state": state,
        "attempts": 0,
        "lease_expires_at": None,
        "processed_at": None if state == "pending" else inbound.received_at,
        "error": None,
    }


def row_to_inbound(row: RowMapping) -> InboundEvent:
    return InboundEvent(
        id=row["id"],
        channel=Channel(row["channel"]),
        received_at=row["received_at"],
        body=bytes(row["body"]),
        headers=row["headers"],
        query=row["query"],
        integration_id=row["integration_id"],
        verified_by=row["verified_by"],
    )
