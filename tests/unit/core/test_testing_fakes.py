"""The shipped fakes behave as documented, so users can rely on them in their own tests.

The store fakes are also covered by tests/contract, which runs the same suites over SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from integration_core.channels import Channel, Integration, IntegrationStatus, RefreshedToken
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import (
    CredentialsUnavailable,
    DeliveryFailed,
    IntegrationServiceError,
    InvalidCredentials,
    InvalidSignature,
    NotFound,
    PlatformUnavailable,
)
from integration_core.events import EventType, NormalizedEvent
from integration_core.ids import TenantId
from integration_core.payments import CardPaymentRequest, CheckoutRequest
from integration_core.testing import (
    FakeChannelSetup,
    FakePaymentGateway,
    FakeProbe,
    FrozenClock,
    InMemoryCredentialStore,
    RecordingForwarder,
    SharedSecretVerifier,
)
from integration_core.webhooks import WebhookRequest

AT = datetime(2026, 1, 1, tzinfo=UTC)
T1 = TenantId("t1")


def _event() -> NormalizedEvent:
    return NormalizedEvent(
        id="evt_1",
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=T1,
        integration_id="int_1",
        channel=Channel.TELEGRAM,
        occurred_at=AT,
        received_at=AT,
        data={"message": {"id": "1"}},
    )


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(AT)
    assert clock.now() == clock.now() == AT
    assert clock.advance(seconds=5) == AT + timedelta(seconds=5)
    clock.set(AT)
    assert clock.now() == AT
    with pytest.raises(ValueError, match="timezone"):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


async def test_recording_forwarder_fails_then_records() -> None:
    forwarder = RecordingForwarder(fail_next=2)
    for _ in range(2):
        with pytest.raises(DeliveryFailed):
            await forwarder.forward(_event())
    await forwarder.forward(_event())
    assert forwarder.attempts == 3
    assert forwarder.delivered == [_event()]


async def test_credential_store_scopes_and_deletes() -> None:
    store = InMemoryCredentialStore()
    ref = CredentialRef(tenant_id=T1, integration_id="int_1", name="access_token")
    other = CredentialRef(tenant_id=T1, integration_id="int_2", name="access_token")
    await store.put(ref, Secret("one"))
    await store.put(other, Secret("two"))
    assert (await store.get(ref)).reveal() == "one"
    await store.delete_all(T1, "int_1")
    with pytest.raises(NotFound):
        await store.get(ref)
    assert (await store.get(other)).reveal() == "two"
    store.available = False
    with pytest.raises(CredentialsUnavailable):
        await store.get(other)


def test_shared_secret_verifier_accepts_any_listed_secret() -> None:
    verifier = SharedSecretVerifier()
    request = WebhookRequest(body=b"{}", headers={"X-Fake-Signature": "new"})
    verifier.verify(request, [Secret("old"), Secret("new")])
    with pytest.raises(InvalidSignature):
        verifier.verify(request, [Secret("old")])
    with pytest.raises(InvalidSignature):
        verifier.verify(request, [])
    with pytest.raises(InvalidSignature):
        verifier.verify(WebhookRequest(body=b"{}"), [Secret("new")])


async def test_fake_channel_setup_validates_and_records() -> None:
    setup = FakeChannelSetup(channel=Channel.WHATSAPP)
    good = {"access_token": Secret("valid-token")}
    account = await setup.validate(credentials=good, config={"external_id": "123"})
    assert account.external_id == "123"
    with pytest.raises(InvalidCredentials):
        await setup.validate(credentials={"access_token": Secret("nope")}, config={})
    integration = Integration(
        id="int_1",
        tenant_id=T1,
        channel=Channel.WHATSAPP,
        status=IntegrationStatus.ACTIVE,
        external_id="123",
        webhook_url="https://hooks.example/whatsapp",
        created_at=AT,
        updated_at=AT,
        status_changed_at=AT,
    )
    await setup.register_webhook(integration=integration, credentials=good)
    assert setup.registered == {"int_1": "https://hooks.example/whatsapp"}
    sent = await setup.send_test_message(
        integration=integration, credentials=good, to="5", text="hi"
    )
    assert sent == "fake-msg-1"
    assert setup.sent == [("int_1", "5", "hi")]
    assert await setup.refresh_token(integration=integration, credentials=good) is None
    await setup.unregister_webhook(integration=integration, credentials=good)
    assert setup.registered == {}

    # Token rotation's knobs: a platform that is down, and what a refresh returns.
    setup.failure = PlatformUnavailable()
    with pytest.raises(PlatformUnavailable):
        await setup.refresh_token(integration=integration, credentials=good)
    with pytest.raises(PlatformUnavailable):
        await setup.validate(credentials=good, config={"external_id": "123"})
    setup.failure = None
    setup.refreshed = RefreshedToken(access_token=Secret("fresh"), expires_at=AT)
    assert await setup.refresh_token(integration=integration, credentials=good) == setup.refreshed
    assert (setup.refreshes, setup.validations) == (3, 3)


async def test_fake_gateway_is_idempotent_per_key() -> None:
    gateway = FakePaymentGateway()
    checkout = CheckoutRequest(
        payment_id="pay_1", amount=Decimal("150.00"), currency="ARS", description="Plan"
    )
    first = await gateway.create_checkout(checkout, idempotency_key="k1")
    assert await gateway.create_checkout(checkout, idempotency_key="k1") == first
    assert await gateway.create_checkout(checkout, idempotency_key="k2") != first

    card = CardPaymentRequest(
        payment_id="pay_2",
        amount=Decimal("100.00"),
        currency="ARS",
        description="Plan",
        card_token="tok",
        payment_method_id="visa",
    )
    paid = await gateway.create_payment(card, idempotency_key="k3")
    again = await gateway.create_payment(card, idempotency_key="k3")
    assert again == paid
    assert paid.status == "approved"


async def test_fake_gateway_partial_then_total_refund() -> None:
    gateway = FakePaymentGateway()
    card = CardPaymentRequest(
        payment_id="pay_1",
        amount=Decimal("100.00"),
        currency="ARS",
        description="Plan",
        card_token="tok",
        payment_method_id="visa",
    )
    paid = await gateway.create_payment(card, idempotency_key="pay")
    pid = paid.provider_payment_id
    part = await gateway.refund(pid, Decimal("30.00"), idempotency_key="r1")
    assert part.amount == Decimal("30.00")
    assert (await gateway.get_payment(pid)).status_detail == "partially_refunded"
    assert await gateway.refund(pid, Decimal("30.00"), idempotency_key="r1") == part
    rest = await gateway.refund(pid, None, idempotency_key="r2")
    assert rest.amount == Decimal("70.00")
    assert (await gateway.get_payment(pid)).status == "refunded"
    with pytest.raises(IntegrationServiceError):
        await gateway.refund(pid, Decimal("0.01"), idempotency_key="r3")
    with pytest.raises(NotFound):
        await gateway.get_payment("missing")


async def test_fake_probe_toggles() -> None:
    probe = FakeProbe("vault", critical=False)
    await probe.check()
    probe.failing = True
    with pytest.raises(IntegrationServiceError, match="vault is failing"):
        await probe.check()
