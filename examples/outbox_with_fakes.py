"""Drive the event outbox through the ports, with the shipped fakes standing in for adapters.

This is the pattern for testing your own code built on ``integration_core``: depend on the
Protocols in ``integration_core.ports`` and hand in ``integration_core.testing`` fakes. Swap in
``adapters_db.SqlEventStore`` (or your own adapter) and nothing else changes.

Run: ``python examples/outbox_with_fakes.py`` (exits 0 when every assertion holds).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from integration_core import Channel, EventRecord, EventType, Settlement, TenantId, new_id
from integration_core.errors import DeliveryFailed
from integration_core.ports import Clock, EventStore, MessageForwarder
from integration_core.testing import FrozenClock, InMemoryEventStore, RecordingForwarder


async def drain_once(*, events: EventStore, forwarder: MessageForwarder, clock: Clock) -> int:
    """Forward every due event once; return how many were delivered."""
    delivered = 0
    for record in await events.claim_due(now=clock.now(), limit=100, lease=timedelta(seconds=30)):
        try:
            await forwarder.forward(record.to_forward())
        except DeliveryFailed as exc:
            retry_at = clock.now() + timedelta(seconds=5)
            failed = Settlement.failed(
                record.id,
                error=exc.message,
                retry_at=retry_at,
                at=clock.now(),
                lease_token=record.lease_token,  # only the claim that holds it may settle it
            )
            await events.settle([failed])
        else:
            done = Settlement.delivered(record.id, at=clock.now(), lease_token=record.lease_token)
            await events.settle([done])
            delivered += 1
    return delivered


async def main() -> None:
    """Store an event twice, fail its first delivery, deliver it on the retry."""
    clock = FrozenClock()
    events = InMemoryEventStore()
    forwarder = RecordingForwarder(fail_next=1)

    record = EventRecord(
        id=new_id("evt"),
        channel=Channel.TELEGRAM,
        dedupe_key="bot42:update:1001",
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=TenantId("acme"),
        integration_id="int_example",
        occurred_at=clock.now(),
        received_at=clock.now(),
        data={"message": {"id": "7", "kind": "text", "text": "hola"}},
    )
    assert await events.record(None, [record]) == (True,)
    assert await events.record(None, [record]) == (False,), "a repeat is recognised"

    assert await drain_once(events=events, forwarder=forwarder, clock=clock) == 0
    clock.advance(seconds=5)
    assert await drain_once(events=events, forwarder=forwarder, clock=clock) == 1
    assert [e.id for e in forwarder.delivered] == [record.id], "same id on the retry"
    stored = await events.get(TenantId("acme"), record.id)
    print(f"{stored.id}: {stored.status} after {stored.attempts} attempts")


if __name__ == "__main__":
    asyncio.run(main())
