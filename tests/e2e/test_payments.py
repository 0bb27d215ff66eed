"""Payments end to end: a real ``serve``, the fake Mercado Pago, signed notifications, the sink.

A checkout is created through our API, the buyer pays on the fake Mercado Pago, which queues the
notification it would send; the test signs and posts it, and the messaging sink (verifying every
delivery with the official ``standardwebhooks`` library) must receive exactly one
``payment.updated`` per real change. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..fakes.fake_mercadopago import OURS
from .conftest import Service, StartService
from .forwarding_support import JWT_SECRET, TENANT, metric, service_env, wait_until
from .mercadopago_support import WEBHOOK_SECRET, ThreadedMercadoPago, api, deliver
from .messaging_sink import MessagingSink

RunCli = Callable[..., subprocess.CompletedProcess[str]]
CHECKOUT = {"amount": "150.00", "currency": "ARS", "description": "Order 42"}


@pytest.fixture
def mercadopago() -> Iterator[ThreadedMercadoPago]:
    running = ThreadedMercadoPago().start()
    try:
        yield running
    finally:
        running.shutdown()


@pytest.fixture
def service(
    start_service: StartService,
    sink: MessagingSink,
    database_url: str,
    mercadopago: ThreadedMercadoPago,
) -> Service:
    env = service_env(
        database_url,
        sink,
        MP_ACCESS_TOKEN=OURS,
        MP_API_BASE_URL=mercadopago.url,
        MP_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    started = start_service(**env)
    started.wait_for_health(200)
    return started


@pytest.fixture
def token(run_cli: RunCli) -> str:
    minted = run_cli(
        "token", "--tenant", TENANT, "--scope",
        "payments:read payments:write integrations:write",
        JWT_SECRET=JWT_SECRET,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    return minted.stdout.strip()


def payment_events(sink: MessagingSink) -> list[dict[str, Any]]:
    return [e for e in sink.received if e["type"] == "payment.updated"]


def test_a_paid_checkout_is_forwarded_once_as_approved(
    service: Service, token: str, sink: MessagingSink, mercadopago: ThreadedMercadoPago
) -> None:
    status, payment = api(service, "POST", "/api/v1/payments", token, CHECKOUT, key="order-42")
    assert (status, payment["status"]) == (201, "pending"), payment
    assert api(service, "POST", "/api/v1/payments", token, CHECKOUT, key="order-42") == (
        200,
        payment,
    )

    provider_id = mercadopago.call("pay_checkout", payment["preference_id"])
    (notification,) = mercadopago.fake.outbox
    assert deliver(service, notification) == 200

    sink.wait_for(lambda s: len(payment_events(s)) >= 1, what="payment.updated")
    (event,) = payment_events(sink)
    assert (event["tenant_id"], event["channel"]) == (TENANT, "mercadopago")
    assert event["data"]["payment"] == {
        "id": payment["id"],
        "provider_payment_id": provider_id,
        "status": "approved",
        "status_detail": "accredited",
        "amount": "150.00",
        "currency": "ARS",
        "external_reference": payment["id"],
    }
    status, shown = api(service, "GET", f"/api/v1/payments/{provider_id}", token)
    assert (status, shown["id"], shown["status"]) == (200, payment["id"], "approved")
    assert deliver(service, notification, secret="not-the-secret") == 401
    time.sleep(1.0)  # room for a duplicate to show up, were there one
    assert len(payment_events(sink)) == 1
    assert not sink.rejected
    assert metric(service, "integration_payments_created_total", kind="checkout") == 1.0
    assert metric(service, "integration_payment_notifications_total", outcome="updated") == 1.0
    wait_until(
        lambda: (
            metric(service, "integration_payment_notification_forward_latency_seconds_count") == 1.0
        ),
        5,
        "the notification-to-forward latency observed",
    )
    assert service.stop() == 0


def test_repeated_and_out_of_order_notifications_forward_one_event(
    service: Service, token: str, sink: MessagingSink, mercadopago: ThreadedMercadoPago
) -> None:
    _, payment = api(service, "POST", "/api/v1/payments", token, CHECKOUT)
    provider_id = mercadopago.call(
        "pay_checkout", payment["preference_id"], status="pending", detail="pending_contingency"
    )
    mercadopago.call("set_status", provider_id, "approved", "accredited")
    created, updated = mercadopago.fake.outbox
    assert created.body["action"] == "payment.created"

    # The newer notification first, then the older one; each three times, as retries come.
    statuses = [deliver(service, n) for n in (updated, updated, created, updated, created)]
    statuses.append(deliver(service, created))
    assert statuses == [200] * 6

    sink.wait_for(lambda s: len(payment_events(s)) >= 1, what="payment.updated")
    time.sleep(1.5)  # every notification processed, and room for a second event
    events = payment_events(sink)
    assert [e["data"]["payment"]["status"] for e in events] == ["approved"]
    _, shown = api(service, "GET", f"/api/v1/payments/{payment['id']}", token)
    assert (shown["status"], shown["provider_payment_id"]) == ("approved", provider_id)

    # A partial refund in Mercado Pago's panel keeps the status and changes the detail: news.
    mercadopago.call("set_status", provider_id, "approved", "partially_refunded")
    partial = mercadopago.fake.outbox[-1]
    assert [deliver(service, n) for n in (partial, updated, partial)] == [200] * 3
    sink.wait_for(lambda s: len(payment_events(s)) >= 2, what="the partial refund's event")
    # A real change later (a total refund through our API) is one more event, and only one.
    status, refund = api(service, "POST", f"/api/v1/payments/{payment['id']}/refund", token)
    assert (status, refund["amount"]) == (201, "150.00"), refund
    assert deliver(service, mercadopago.fake.outbox[-1]) == 200
    sink.wait_for(lambda s: len(payment_events(s)) >= 3, what="the refund's payment.updated")
    time.sleep(1.0)
    assert [
        (e["data"]["payment"]["status"], e["data"]["payment"]["status_detail"])
        for e in payment_events(sink)
    ] == [
        ("approved", "accredited"),
        ("approved", "partially_refunded"),
        ("refunded", "refunded"),
    ]
    assert service.stop() == 0


def test_a_connected_seller_account_takes_the_payment_and_its_notification(
    service: Service, token: str, sink: MessagingSink, mercadopago: ThreadedMercadoPago
) -> None:
    access, refresh = mercadopago.call("connect_seller", 4242)
    setup = {"access_token": access, "refresh_token": refresh}
    status, seller = api(service, "POST", "/api/v1/integrations/mercadopago/setup", token, setup)
    assert (status, seller["external_id"]) == (201, "4242"), seller
    assert access not in str(seller)
    assert refresh not in str(seller)

    _, payment = api(service, "POST", "/api/v1/payments", token, CHECKOUT)
    assert mercadopago.fake.preferences[payment["preference_id"]]["collector_id"] == 4242
    mercadopago.call("pay_checkout", payment["preference_id"])
    (notification,) = mercadopago.fake.outbox
    assert notification.body["user_id"] == 4242
    assert deliver(service, notification) == 200

    sink.wait_for(lambda s: len(payment_events(s)) >= 1, what="payment.updated")
    (event,) = payment_events(sink)
    assert (event["integration_id"], event["tenant_id"]) == (seller["id"], TENANT)
    assert event["data"]["payment"]["status"] == "approved"
    assert service.stop() == 0
    logs = service.output()  # complete once the process has stopped
    assert access not in logs
    assert refresh not in logs
