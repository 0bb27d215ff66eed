"""Legacy IPNs are bounded: one stored and fetched per resource and window, a budget of their own,
retries spaced by the window, and switchable off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration_core.credentials import Secret
from integration_core.payment_notifications import NotificationStatus
from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier
from integration_core.testing import (
    FakePaymentGateway,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventStore,
    InMemoryIntegrationStore,
    InMemoryPaymentNotificationStore,
    InMemoryPaymentStore,
)
from integration_core.use_cases.payment_notifications import (
    NotificationOutcome,
    ProcessPaymentNotifications,
    ReceivePaymentNotification,
    window_start,
)
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.seller_accounts import SellerAccounts
from integration_core.webhooks import WebhookRequest

WINDOW = timedelta(minutes=1)
START = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)


class World:
    def __init__(self, *, enabled: bool = True) -> None:
        self.clock = FrozenClock(START)
        self.inbox = InMemoryPaymentNotificationStore()
        self.gateway = FakePaymentGateway()
        self.receive = ReceivePaymentNotification(
            notifications=self.inbox,
            verifier=MercadoPagoWebhookVerifier(clock=self.clock),
            secrets=(Secret("mp-secret"),),
            clock=self.clock,
            ipn_enabled=enabled,
            ipn_window=WINDOW,
        )
        payments = InMemoryPaymentStore()
        self.process = ProcessPaymentNotifications(
            notifications=self.inbox,
            apply=ApplyProviderUpdate(
                payments=payments,
                gateway=self.gateway,
                events=InMemoryEventStore(),
                clock=self.clock,
            ),
            sellers=SellerAccounts(
                integrations=InMemoryIntegrationStore(), credentials=InMemoryCredentialStore()
            ),
            clock=self.clock,
            payments=payments,
            retry_delays=(timedelta(seconds=2), timedelta(seconds=10)),
            ipn_window=WINDOW,
        )


def ipn(resource: str = "777", topic: str = "payment", n: int = 0) -> WebhookRequest:
    return WebhookRequest(
        body=b"",
        headers={"x-request-id": f"caller-chosen-{n}"},
        query={"topic": topic, "id": resource},
    )


async def test_a_resource_is_stored_once_per_window_whatever_the_request_id() -> None:
    w = World()
    stored = [(await w.receive(ipn(n=n))).stored for n in range(100)]
    other = await w.receive(ipn("778"))
    order = await w.receive(ipn("777", topic="merchant_order"))

    assert stored == [True] + [False] * 99
    assert other.stored
    assert order.stored
    assert len(w.inbox.items) == 3


async def test_after_the_windows_fetch_a_repeat_waits_for_the_next_window() -> None:
    w = World()
    await w.receive(ipn())
    (claimed,) = await w.inbox.claim_due(now=START, limit=5, lease=timedelta(minutes=1))
    await w.inbox.settle(claimed.id, status=NotificationStatus.PROCESSED, outcome="x", at=START)

    w.clock.advance(timedelta(seconds=20))
    deferred = await w.receive(ipn(n=1))
    repeats = [(await w.receive(ipn(n=n))).stored for n in range(2, 50)]

    assert deferred.stored
    assert not any(repeats)
    later = [n for n in w.inbox.items.values() if n.id != claimed.id]
    assert [n.next_attempt_at for n in later] == [window_start(START, WINDOW, later=1)]
    assert await w.inbox.claim_due(now=w.clock.now(), limit=5, lease=WINDOW) == []


async def test_ipns_spend_a_budget_of_their_own() -> None:
    w = World()
    hits: list[str] = []

    async def admit() -> None:
        hits.append("signed")

    async def admit_unsigned() -> None:
        hits.append("ipn")

    await w.receive(ipn(), admit=admit, admit_unsigned=admit_unsigned)
    await w.receive(ipn(), admit=admit)  # no budget of its own given: the shared one

    assert hits == ["ipn", "signed"]


async def test_switched_off_ipns_are_neither_admitted_nor_stored() -> None:
    w = World(enabled=False)

    async def admit() -> None:
        raise AssertionError("a disabled IPN must not spend the budget")

    received = await w.receive(ipn(), admit=admit, admit_unsigned=admit)

    assert (received.stored, received.disabled, received.legacy) == (False, True, True)
    assert w.inbox.items == {}


async def test_an_unknown_ipn_resource_is_fetched_again_only_a_window_later() -> None:
    w = World()
    await w.receive(ipn("999"))

    (first,) = await w.process.run_once()

    assert first.outcome is NotificationOutcome.RETRY
    (held,) = w.inbox.items.values()
    assert held.next_attempt_at == START + WINDOW  # not the 2 s of the schedule
    w.clock.advance(timedelta(seconds=30))
    assert await w.process.run_once() == []


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ReceivePaymentNotification(
            notifications=InMemoryPaymentNotificationStore(),
            verifier=MercadoPagoWebhookVerifier(clock=FrozenClock()),
            secrets=(),
            clock=FrozenClock(),
            ipn_window=timedelta(0),
        )
