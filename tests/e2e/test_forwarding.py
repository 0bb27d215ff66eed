"""Webhooks in, events out: real ``serve`` processes forwarding to a fake messaging service.

Every test runs on SQLite and on PostgreSQL (the database outage only on PostgreSQL, behind a
proxy the test can cut). The messaging service verifies each delivery with the official
``standardwebhooks`` library, so "received" always means "received and verified".
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from .conftest import Service, StartService, TcpProxy, free_port
from .forwarding_support import (
    JWT_SECRET,
    PHONE_NUMBER_ID,
    TENANT,
    add_whatsapp_integration,
    list_events,
    post,
    post_concurrently,
    service_env,
    wait_until,
    wamid,
    whatsapp_delivery,
)
from .messaging_sink import MessagingSink

RunCli = Callable[..., subprocess.CompletedProcess[str]]
ENVELOPE = {
    "id",
    "type",
    "tenant_id",
    "integration_id",
    "channel",
    "occurred_at",
    "received_at",
    "data",
}


def started(
    start_service: StartService, env: dict[str, str], *, port: int | None = None
) -> Service:
    """Start a service with *env* and wait until it is healthy (migrated)."""
    service = start_service(port=port, **({"PORT": str(port)} if port else {}), **env)
    service.wait_for_health(200)
    return service


def rfc3339_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None
    return moment.astimezone(UTC)


def test_a_signed_batch_is_forwarded_verified_and_listed_as_delivered(
    start_service: StartService, run_cli: RunCli, sink: MessagingSink, database_url: str
) -> None:
    service = started(start_service, service_env(database_url, sink))
    integration_id = add_whatsapp_integration(database_url)
    first, second, sent = wamid(), wamid(), wamid()

    assert post(service, whatsapp_delivery([first, second], statuses=[sent])) == 200

    sink.wait_for(lambda s: len(s.received) >= 3, what="3 events")
    events = sink.received
    assert not sink.rejected
    assert len(events) == 3
    for event in events:
        assert set(event) == ENVELOPE
        assert event["id"].startswith("evt_")
        assert (event["tenant_id"], event["integration_id"]) == (TENANT, integration_id)
        assert event["channel"] == "whatsapp"
        assert rfc3339_utc(event["received_at"]) <= datetime.now(UTC)
        rfc3339_utc(event["occurred_at"])
    assert Counter(e["type"] for e in events) == {"message.received": 2, "message.status": 1}
    assert sink.message_ids() == {first, second}
    status = next(e for e in events if e["type"] == "message.status")
    assert status["data"]["status"]["message_id"] == sent
    message = next(e for e in events if e["type"] == "message.received")
    assert message["data"]["message"]["recipient"]["id"] == PHONE_NUMBER_ID

    minted = run_cli("token", "--tenant", TENANT, JWT_SECRET=JWT_SECRET)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()

    def all_delivered() -> bool:
        listed = list_events(service, token)
        return len(listed) == 3 and all(e["status"] == "delivered" for e in listed)

    wait_until(all_delivered, 10, "every event listed as delivered")
    assert {e["id"] for e in list_events(service, token)} == {e["id"] for e in events}
    assert service.stop() == 0


def test_a_repeated_delivery_is_forwarded_once(
    start_service: StartService, sink: MessagingSink, database_url: str
) -> None:
    service = started(start_service, service_env(database_url, sink))
    add_whatsapp_integration(database_url)
    delivery = whatsapp_delivery([wamid(), wamid()], statuses=[wamid()])

    assert [post(service, delivery) for _ in range(3)] == [200] * 3
    assert post_concurrently(service.port, [delivery] * 5, concurrency=5) == [200] * 5

    sink.wait_for(lambda s: len(s.received) >= 3, what="3 events")
    time.sleep(1.5)  # room for a duplicate to show up, were there one
    assert sorted(sink.counts().values()) == [1, 1, 1]
    assert len(sink.attempts) == 3, "each event was sent once, not just accepted once"
    assert service.stop() == 0


def test_a_failing_messaging_service_gets_the_same_event_again(
    start_service: StartService, sink: MessagingSink, database_url: str
) -> None:
    service = started(
        start_service, service_env(database_url, sink, FORWARD_RETRY_SCHEDULE="0s,1s,1s,1s")
    )
    add_whatsapp_integration(database_url)
    sink.fail(times=2)
    message = wamid()

    assert post(service, whatsapp_delivery([message])) == 200

    sink.wait_for(lambda s: message in s.message_ids(), timeout=15, what="the retried event")
    (event,) = sink.received
    assert sink.attempts == [(event["id"], 503), (event["id"], 503), (event["id"], 200)]
    assert service.stop() == 0


def test_every_acknowledged_delivery_of_a_burst_survives_a_sigkill(
    start_service: StartService, sink: MessagingSink, database_url: str
) -> None:
    # A short lease, so the events the killed process had claimed come back quickly.
    env = service_env(database_url, sink, FORWARD_LEASE="2s", FORWARD_BATCH_SIZE="10")
    port = free_port()
    service = started(start_service, env, port=port)
    add_whatsapp_integration(database_url)
    messages = [wamid() for _ in range(200)]
    deliveries = [whatsapp_delivery([m]) for m in messages]

    def kill_midway(answers: int) -> None:
        if answers == 60:
            os.kill(service.process.pid, signal.SIGKILL)

    statuses = post_concurrently(port, deliveries, concurrency=20, on_answer=kill_midway)
    service.process.wait(timeout=10)

    acknowledged = {m for m, status in zip(messages, statuses, strict=True) if status == 200}
    assert len(acknowledged) >= 30, Counter(statuses)
    assert None in statuses, "the kill came while deliveries were still arriving"
    started(start_service, env)
    sink.wait_for(
        lambda s: acknowledged <= s.message_ids(),
        timeout=25,
        what=f"all {len(acknowledged)} acknowledged deliveries",
    )
    assert not sink.rejected


def test_a_database_outage_answers_503_and_loses_nothing(
    start_service: StartService,
    sink: MessagingSink,
    postgres_database: str,
    postgres_proxy: TcpProxy,
) -> None:
    postgres_proxy.open()
    through_proxy = make_url(postgres_database).set(host="127.0.0.1", port=postgres_proxy.port)
    service = started(
        start_service, service_env(through_proxy.render_as_string(hide_password=False), sink)
    )
    add_whatsapp_integration(postgres_database)
    before = wamid()
    assert post(service, whatsapp_delivery([before])) == 200
    sink.wait_for(lambda s: before in s.message_ids(), what="the event sent before the outage")

    postgres_proxy.close()
    during = [wamid() for _ in range(5)]
    statuses = [post(service, whatsapp_delivery([m])) for m in during]
    service.wait_for_health(503, timeout=15)

    assert statuses == [503] * 5, "never 200 for an event that is not stored"
    time.sleep(1.5)  # the workers meet the outage too, and must live through it
    postgres_proxy.open()
    service.wait_for_health(200, timeout=20)
    after = [wamid() for _ in range(3)]
    assert [post(service, whatsapp_delivery([m])) for m in after] == [200] * 3
    sink.wait_for(
        lambda s: set(after) <= s.message_ids(), timeout=20, what="events after the outage"
    )
    assert not set(during) & sink.message_ids(), "refused deliveries were not half-stored"
    assert service.stop() == 0
    logged = [line["event"] for line in service.log_lines()]
    assert "forwarding_storage_unavailable" in logged
    assert "forwarding_worker_stopped" in logged, "the worker survived and stopped cleanly"
