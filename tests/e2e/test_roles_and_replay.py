"""Split roles on one database, and the ``replay`` command that empties the dead-letter queue."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable

from .conftest import Service, StartService
from .forwarding_support import (
    JWT_SECRET,
    TENANT,
    WHATSAPP_PATH,
    add_whatsapp_integration,
    list_events,
    metric,
    post,
    service_env,
    wait_until,
    wamid,
    whatsapp_delivery,
)
from .messaging_sink import MessagingSink

RunCli = Callable[..., subprocess.CompletedProcess[str]]
DELIVERED = "integration_forward_attempts_total"


def status_of(service: Service, path: str, method: str = "GET") -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}{path}", data=b"{}", method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_api_process_and_a_worker_process_share_one_database(
    start_service: StartService, sink: MessagingSink, database_url: str
) -> None:
    env = service_env(database_url, sink)
    # The worker first: it must wait for the api process to migrate, not migrate itself.
    worker = start_service("--role", "worker", **env)
    worker.wait_for_health(503)
    api = start_service("--role", "api", **env)
    api.wait_for_health(200)
    worker.wait_for_health(200)
    add_whatsapp_integration(database_url)
    messages = [wamid(), wamid()]

    assert post(api, whatsapp_delivery(messages)) == 200

    sink.wait_for(lambda s: set(messages) <= s.message_ids(), what="both messages")
    wait_until(
        lambda: metric(worker, DELIVERED, outcome="delivered") == 2.0,
        5,
        "the worker counting its deliveries",
    )
    assert metric(api, DELIVERED, outcome="delivered") is None, "the api process forwards nothing"
    assert metric(worker, "integration_outbox_pending") is not None
    assert status_of(worker, WHATSAPP_PATH, "POST") == 404, "a worker takes no webhooks"
    assert status_of(worker, "/api/v1/events") == 404, "nor serves the management API"
    assert status_of(worker, "/api/v1/ready") == 200
    assert api.stop() == 0
    assert worker.stop() == 0
    worker_log = [line["event"] for line in worker.log_lines()]
    api_log = [line["event"] for line in api.log_lines()]
    assert "waiting_for_migrations" in worker_log
    assert "migrations_applied" not in worker_log
    assert "workers_started" in worker_log
    assert "migrations_applied" in api_log
    assert "workers_started" not in api_log


def test_replay_sends_a_dead_letter_again_under_the_same_id(
    start_service: StartService, run_cli: RunCli, sink: MessagingSink, database_url: str
) -> None:
    env = service_env(database_url, sink, FORWARD_RETRY_SCHEDULE="0s,1s")
    service = start_service(**env)
    service.wait_for_health(200)
    add_whatsapp_integration(database_url)
    token = run_cli("token", "--tenant", TENANT, JWT_SECRET=JWT_SECRET).stdout.strip()
    sink.fail()
    message = wamid()

    assert post(service, whatsapp_delivery([message])) == 200
    wait_until(
        lambda: [e["status"] for e in list_events(service, token)] == ["dead"],
        15,
        "the event being dead-lettered",
    )
    (dead,) = list_events(service, token)
    assert dead["attempts"] == 2
    assert [status for _, status in sink.attempts] == [503, 503]
    sink.recover()

    replayed = run_cli("replay", "--dead", "--tenant", TENANT, **env)

    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == "requeued 1 event\n"
    sink.wait_for(lambda s: message in s.message_ids(), what="the replayed event")
    (event,) = sink.received
    assert event["id"] == dead["id"]
    assert {event_id for event_id, _ in sink.attempts} == {dead["id"]}
    wait_until(
        lambda: [e["status"] for e in list_events(service, token)] == ["delivered"],
        5,
        "the event being listed as delivered",
    )
    again = run_cli("replay", "--dead", "--tenant", TENANT, **env)
    assert again.stdout == "requeued 0 events\n", "nothing is dead any more"

    # Once more, re-normalized from the stored raw delivery: same id, same (current) payload.
    renormalized = run_cli(
        "replay", "--event", dead["id"], "--tenant", TENANT, "--renormalize", **env
    )
    assert renormalized.stdout == "requeued 1 event\n", renormalized.stderr
    assert "renormalized 1; 0 kept their stored data" in renormalized.stderr
    sink.wait_for(lambda s: len(s.received) == 2, what="the re-normalized event")
    first, second = sink.received
    assert (second["id"], second["data"]) == (first["id"], first["data"])
    assert service.stop() == 0


def test_replay_without_a_tenant_sends_every_tenants_dead_letters_again(
    start_service: StartService, run_cli: RunCli, sink: MessagingSink, database_url: str
) -> None:
    env = service_env(database_url, sink, FORWARD_RETRY_SCHEDULE="0s,1s")
    service = start_service(**env)
    service.wait_for_health(200)
    other_tenant, other_phone = "tenant-e2e-other", "2098765432"
    add_whatsapp_integration(database_url)
    add_whatsapp_integration(database_url, other_phone, tenant=other_tenant)
    tokens = [
        run_cli("token", "--tenant", tenant, JWT_SECRET=JWT_SECRET).stdout.strip()
        for tenant in (TENANT, other_tenant)
    ]
    sink.fail()  # the messaging service is down for everyone
    ours, theirs = wamid(), wamid()

    assert post(service, whatsapp_delivery([ours])) == 200
    assert post(service, whatsapp_delivery([theirs], phone_number_id=other_phone)) == 200
    wait_until(
        lambda: [[e["status"] for e in list_events(service, t)] for t in tokens] == [["dead"]] * 2,
        15,
        "both tenants' events being dead-lettered",
    )
    dead_ids = {e["id"] for token in tokens for e in list_events(service, token)}
    sink.recover()

    replayed = run_cli("replay", "--dead", **env)

    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == "requeued 2 events across 2 tenants\n"
    sink.wait_for(lambda s: {ours, theirs} <= s.message_ids(), what="both replayed events")
    assert {event["id"] for event in sink.received} == dead_ids, "same ids as before"
    assert {event["tenant_id"] for event in sink.received} == {TENANT, other_tenant}
    again = run_cli("replay", "--dead", **env)
    assert again.stdout == "requeued 0 events across 0 tenants\n"
    assert service.stop() == 0
