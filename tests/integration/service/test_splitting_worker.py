"""The splitting worker runs its splitters side by side: one batch's waits (its claim, its
commit, its forwarding round trips) never hold up the next batch's splitting."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import prometheus_client

from adapters_observability.forward_metrics import ForwardMetrics
from adapters_observability.split_metrics import SplitMetrics
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.events import NormalizedEvent
from integration_core.ids import TenantId, new_id
from integration_core.own_secrets import OwnSecrets
from integration_core.testing import (
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventInbox,
    InMemoryEventStore,
    InMemoryIntegrationStore,
)
from integration_core.use_cases.forwarding import ForwardEvents
from integration_core.use_cases.splitting import SplitDeliveries
from integration_core.webhooks import InboundEvent
from integration_service.loops import Wakeup
from integration_service.workers import SplittingWorker, Workers

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OWNER = Integration(
    id="int_01sidebyside00000000000000",
    tenant_id=TenantId("t1"),
    channel=Channel.TELEGRAM,
    external_id="42",
    status=IntegrationStatus.ACTIVE,
    created_at=AT,
    updated_at=AT,
    status_changed_at=AT,
)


class GatedForwarder:
    """A messaging service that holds every delivery until released, counting how many wait."""

    def __init__(self) -> None:
        self.waiting = 0
        self.most_waiting = 0
        self.released = asyncio.Event()

    async def forward(self, event: NormalizedEvent) -> None:
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            await self.released.wait()
        finally:
            self.waiting -= 1


def _update(number: int) -> InboundEvent:
    body = {
        "update_id": number,
        "message": {
            "message_id": number,
            "date": 1767225600,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ana"},
            "text": "hola",
        },
    }
    return InboundEvent(
        id=new_id("in"),
        channel=Channel.TELEGRAM,
        received_at=AT,
        body=json.dumps(body).encode(),
        integration_id=OWNER.id,
    )


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_a_batch_waiting_on_the_messaging_service_does_not_hold_up_the_next() -> None:
    clock = FrozenClock(AT)
    integrations = InMemoryIntegrationStore()
    await integrations.add(OWNER)
    events = InMemoryEventStore()
    inbox = InMemoryEventInbox(events)
    forwarder = GatedForwarder()

    def forward() -> ForwardEvents:
        return ForwardEvents(events=events, forwarder=forwarder, clock=clock, batch_size=1)

    first = SplitDeliveries(
        inbox=inbox,
        directory=integrations,
        own_secrets=OwnSecrets(
            find=integrations.find, credentials=InMemoryCredentialStore(), clock=clock
        ),
        clock=clock,
        batch_size=1,
        forward=forward(),
    )
    registry = prometheus_client.CollectorRegistry()
    forward_metrics = ForwardMetrics(registry=registry)
    worker = SplittingWorker(
        splits=[first, first.alongside(forward()), first.alongside(forward())],
        poll_interval=30.0,
        wakeup=Wakeup(),
        metrics=SplitMetrics(registry=registry, channels=tuple(Channel)),
        forward_metrics=forward_metrics,
        inbox=inbox,
        clock=clock,
    )
    for number in (1, 2, 3):
        await inbox.append(_update(number))
    workers = Workers()
    workers.start("split-test", worker.run(workers.stopping))
    try:
        await eventually(lambda: forwarder.waiting == 3)
        assert forwarder.most_waiting == 3, "each splitter forwards its own batch meanwhile"
        forwarder.released.set()
        await eventually(
            lambda: (
                registry.get_sample_value(
                    "integration_forward_attempts_total",
                    {"outcome": "delivered"},
                )
                == 3.0
            )
        )
    finally:
        forwarder.released.set()
        await workers.stop(5)
