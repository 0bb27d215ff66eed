"""The splitter forwards the events it just stored, held so no forwarder claims them too; while
forwarding fails it leaves new events to the forwarding workers instead of waiting on them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.events import DeliveryStatus
from integration_core.ids import TenantId, new_id
from integration_core.own_secrets import OwnSecrets
from integration_core.testing import (
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventInbox,
    InMemoryEventStore,
    InMemoryIntegrationStore,
    RecordingForwarder,
)
from integration_core.use_cases.forwarding import ForwardEvents, Outcome, RetryPolicy
from integration_core.use_cases.splitting import FORWARD_PAUSE, SplitDeliveries
from integration_core.webhooks import InboundEvent

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
OWNER = Integration(
    id="int_01split0000000000000000000",
    tenant_id=TenantId("t1"),
    channel=Channel.WHATSAPP,
    external_id="111",
    status=IntegrationStatus.ACTIVE,
    created_at=AT,
    updated_at=AT,
    status_changed_at=AT,
)


def _delivery(wamid: str) -> InboundEvent:
    change = {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1555", "phone_number_id": "111"},
            "messages": [
                {
                    "from": "549",
                    "id": wamid,
                    "timestamp": "1767225600",
                    "type": "text",
                    "text": {"body": "hola"},
                }
            ],
        },
    }
    body = {"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [change]}]}
    return InboundEvent(
        id=new_id("in"), channel=Channel.WHATSAPP, received_at=AT, body=json.dumps(body).encode()
    )


class World:
    def __init__(self, *, fail_next: int = 0, batch_size: int = 100) -> None:
        self.clock = FrozenClock(AT)
        self.integrations = InMemoryIntegrationStore()
        self.events = InMemoryEventStore()
        self.inbox = InMemoryEventInbox(self.events)
        self.forwarder = RecordingForwarder(fail_next=fail_next)
        self.forward = ForwardEvents(
            events=self.events,
            forwarder=self.forwarder,
            clock=self.clock,
            policy=RetryPolicy(jitter=0),
            lease=LEASE,
            batch_size=batch_size,
        )
        self.rung = 0
        self.splitter = SplitDeliveries(
            inbox=self.inbox,
            directory=self.integrations,
            own_secrets=OwnSecrets(
                find=self.integrations.find,
                credentials=InMemoryCredentialStore(),
                clock=self.clock,
            ),
            clock=self.clock,
            forward=self.forward,
            on_queued=self._ring,
        )

    def _ring(self) -> None:
        self.rung += 1

    async def statuses(self) -> list[DeliveryStatus]:
        return [e.status for e in (await self.events.list(OWNER.tenant_id)).items]


async def test_the_events_just_stored_are_forwarded_in_the_same_batch() -> None:
    world = World()
    await world.integrations.add(OWNER)
    await world.inbox.append(_delivery("wamid.A"))
    await world.inbox.append(_delivery("wamid.B"))

    report = await world.splitter.run_once()

    assert [a.outcome for a in report.forwarded] == [Outcome.DELIVERED] * 2
    assert {e.data["message"]["id"] for e in world.forwarder.delivered} == {"wamid.A", "wamid.B"}
    assert await world.statuses() == [DeliveryStatus.DELIVERED] * 2
    assert world.rung == 0, "nothing left for the forwarding workers"
    assert await world.forward.run_once() == [], "and nothing is sent twice"


async def test_at_most_one_forwarding_batch_is_held_the_rest_goes_to_the_workers() -> None:
    world = World(batch_size=2)
    await world.integrations.add(OWNER)
    for wamid in ("wamid.A", "wamid.B", "wamid.C"):
        await world.inbox.append(_delivery(wamid))

    report = await world.splitter.run_once()

    assert len(report.forwarded) == 2, "one batch, so FORWARD_LEASE covers its attempts"
    assert world.rung == 1, "the third event is left to the forwarding workers"
    [attempt] = await world.forward.run_once()
    assert attempt.outcome is Outcome.DELIVERED
    assert await world.statuses() == [DeliveryStatus.DELIVERED] * 3


async def test_a_repeat_is_not_forwarded_again() -> None:
    world = World()
    await world.integrations.add(OWNER)
    await world.inbox.append(_delivery("wamid.A"))
    await world.splitter.run_once()
    await world.inbox.append(_delivery("wamid.A"))

    report = await world.splitter.run_once()

    assert report.forwarded == ()
    assert len(world.forwarder.delivered) == 1


async def test_a_failed_attempt_is_retried_by_the_workers_and_pauses_forwarding_here() -> None:
    world = World(fail_next=1)
    await world.integrations.add(OWNER)
    await world.inbox.append(_delivery("wamid.A"))

    first = await world.splitter.run_once()

    assert [a.outcome for a in first.forwarded] == [Outcome.RETRY]
    await world.inbox.append(_delivery("wamid.B"))
    second = await world.splitter.run_once()
    assert second.forwarded == (), "while paused the splitter only stores"
    assert world.rung == 1, "and wakes the forwarding workers"
    world.clock.advance(timedelta(seconds=5))
    retried = await world.forward.run_once()
    assert sorted(a.outcome for a in retried) == [Outcome.DELIVERED] * 2

    world.clock.advance(FORWARD_PAUSE)
    await world.inbox.append(_delivery("wamid.C"))
    third = await world.splitter.run_once()
    assert [a.outcome for a in third.forwarded] == [Outcome.DELIVERED], "the pause ends"


async def test_a_splitter_that_dies_after_storing_leaves_its_events_to_the_workers() -> None:
    world = World()
    await world.integrations.add(OWNER)
    await world.inbox.append(_delivery("wamid.A"))
    dying = SplitDeliveries(
        inbox=world.inbox,
        directory=world.integrations,
        own_secrets=OwnSecrets(
            find=world.integrations.find, credentials=InMemoryCredentialStore(), clock=world.clock
        ),
        clock=world.clock,
        forward=ForwardEvents(
            events=world.events, forwarder=_Dies(), clock=world.clock, lease=LEASE
        ),
    )

    with pytest.raises(_Crash):
        await dying.run_once()

    assert await world.forward.run_once() == [], "held by the dead splitter's lease"
    world.clock.advance(LEASE)
    [attempt] = await world.forward.run_once()
    assert attempt.outcome is Outcome.DELIVERED


class _Crash(BaseException):
    """A process that dies mid-batch (not an error the use case handles)."""


class _Dies:
    async def forward(self, event: object) -> None:
        raise _Crash


async def test_a_splitter_alongside_forwards_with_its_own_use_case() -> None:
    world = World()
    await world.integrations.add(OWNER)
    own = RecordingForwarder()
    beside = world.splitter.alongside(
        ForwardEvents(events=world.events, forwarder=own, clock=world.clock, lease=LEASE)
    )
    await world.inbox.append(_delivery("wamid.A"))

    report = await beside.run_once()

    assert [a.outcome for a in report.forwarded] == [Outcome.DELIVERED]
    assert [e.data["message"]["id"] for e in own.delivered] == ["wamid.A"]
    assert world.forwarder.delivered == [], "not through the first splitter's use case"
    await world.inbox.append(_delivery("wamid.A"))
    assert (await beside.run_once()).outcomes[0].duplicates == 1, "the same stores"


async def test_a_splitter_alongside_without_forwarding_only_stores() -> None:
    world = World()
    await world.integrations.add(OWNER)
    await world.inbox.append(_delivery("wamid.A"))

    report = await world.splitter.alongside(None).run_once()

    assert report.forwarded == ()
    assert await world.statuses() == [DeliveryStatus.PENDING]
    assert world.rung == 1, "left to the forwarding workers, who are woken"
