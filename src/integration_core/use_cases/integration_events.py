"""The ``integration.*`` events (CONTRACT section 6) that token rotation queues in the outbox.

Each dedupe key names what the event is about (the token, by its expiry; the status left), so a
pass that is repeated, or redone after a crash, never tells the messaging service twice.
"""

from __future__ import annotations

from datetime import datetime

from integration_core.channels import Integration
from integration_core.events import EventRecord, EventType
from integration_core.ids import new_id
from integration_core.serialization import format_datetime


def integration_event(
    integration: Integration, type_: EventType, dedupe_key: str, now: datetime
) -> EventRecord:
    """Return an ``integration.*`` event about *integration* as it is now."""
    expires_at = integration.token_expires_at
    return EventRecord(
        id=new_id("evt", now_ms=int(now.timestamp() * 1000)),
        channel=integration.channel,
        dedupe_key=dedupe_key,
        type=type_,
        tenant_id=integration.tenant_id,
        integration_id=integration.id,
        occurred_at=now,
        received_at=now,
        data={
            "integration": {
                "id": integration.id,
                "channel": str(integration.channel),
                "status": str(integration.status),
                "token_expires_at": None if expires_at is None else format_datetime(expires_at),
            }
        },
    )


def token_expiring(integration: Integration, now: datetime) -> EventRecord:
    """Warn that *integration*'s token expires soon: once per token."""
    key = f"token_expiring:{integration.id}:{_stamp(integration.token_expires_at)}"
    return integration_event(integration, EventType.INTEGRATION_TOKEN_EXPIRING, key, now)


def expired(integration: Integration, now: datetime) -> EventRecord:
    """Tell that *integration* (now ``expired``) cannot reply any more: once per token."""
    key = f"expired:{integration.id}:{_stamp(integration.token_expires_at)}"
    return integration_event(integration, EventType.INTEGRATION_EXPIRED, key, now)


def reauthorization_required(before: Integration, after: Integration, now: datetime) -> EventRecord:
    """Tell that *after* needs its tenant: once per status left (*before*'s last change)."""
    key = f"reauthorization_required:{before.id}:{_stamp(before.status_changed_at)}"
    return integration_event(after, EventType.INTEGRATION_REAUTHORIZATION_REQUIRED, key, now)


def recovered(integration: Integration, now: datetime) -> EventRecord:
    """Tell that *integration* works again: once per new token."""
    key = f"recovered:{integration.id}:{_stamp(integration.token_expires_at)}"
    return integration_event(integration, EventType.INTEGRATION_RECOVERED, key, now)


def _stamp(moment: datetime | None) -> str:
    return "never" if moment is None else format_datetime(moment)
