"""Setup, tenant isolation and idempotent setup end to end, on SQLite and PostgreSQL.

Two ``serve`` replicas share one database and the fake platforms. Tenant A connects every
channel through one replica; tenant B, through the other, cannot see, change, test, refresh or
delete any of them (``404``), cannot connect the same external accounts (``409
integration_exists``) and cannot read A's Tawk.to routes. A's setups sent again with their
``Idempotency-Key`` answer ``200`` with the first body on the other replica and after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conftest import Service, StartService, free_port
from .messaging_sink import MessagingSink
from .setup_support import (
    EXTERNAL_IDS,
    SETUP_CHANNELS,
    Api,
    Platforms,
    mint_token,
    platforms,
    setup_env,
)

__all__ = ["platforms"]  # the fixture, imported so pytest finds it here

TENANT_A, TENANT_B = "tenant-a", "tenant-b"


def test_tenants_are_isolated_and_setups_are_idempotent_across_replicas(
    start_service: StartService,
    run_cli: Callable[..., Any],
    sink: MessagingSink,
    platforms: Platforms,
    database_url: str,
) -> None:
    def replica() -> Service:
        port = free_port()
        service = start_service(port=port, **setup_env(database_url, sink, platforms, port))
        service.wait_for_health(200)
        return service

    first, second = replica(), replica()
    token_a, token_b = mint_token(run_cli, TENANT_A), mint_token(run_cli, TENANT_B)
    a, b = Api(first, token_a), Api(second, token_b)

    created = {}
    for channel in SETUP_CHANNELS:
        answer = a.setup(channel, **{"Idempotency-Key": f"iso-{channel}"})
        assert answer.status == 201, (channel, answer)
        created[channel] = answer.json()
        if channel in EXTERNAL_IDS:
            assert created[channel]["external_id"] == EXTERNAL_IDS[channel]
    # The platforms saw the registrations: Meta subscriptions, Telegram's webhook.
    assert set(platforms.meta.subscriptions) >= {
        created["whatsapp"]["config"]["business_account_id"],
        created["messenger"]["external_id"],
        f"instagram:{created['instagram']['external_id']}",
    }
    assert platforms.telegram.bots[next(iter(platforms.telegram.bots))].webhook is not None

    # Another replica answers the same requests with the first answers.
    on_second = Api(second, token_a)
    for channel in ("whatsapp", "webchat", "tawkto"):
        replay = on_second.setup(channel, **{"Idempotency-Key": f"iso-{channel}"})
        assert replay.status == 200, (channel, replay)
        assert replay.json() == created[channel]
        assert replay.headers["Idempotent-Replayed"] == "true"
    reused = on_second.setup("webchat", {"name": "Other"}, **{"Idempotency-Key": "iso-webchat"})
    assert reused.status == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"

    _assert_tenant_b_sees_nothing(b, created)

    # The same external accounts cannot be connected by another tenant, even under A's keys.
    for channel in EXTERNAL_IDS:
        taken = b.setup(channel, **{"Idempotency-Key": f"iso-{channel}"})
        assert taken.status == 409, (channel, taken)
        assert taken.json()["error"]["code"] == "integration_exists"
    own_webchat = b.setup("webchat")
    assert own_webchat.status == 201
    assert own_webchat.json()["tenant_id"] == TENANT_B
    listed_b = b.call("GET", "/api/v1/integrations/channels").json()["data"]
    assert [i["id"] for i in listed_b] == [own_webchat.json()["id"]]

    # A restart forgets nothing: the replay still answers the first body.
    assert first.stop() == 0
    restarted = replica()
    again = Api(restarted, token_a).setup("telegram", **{"Idempotency-Key": "iso-telegram"})
    assert again.status == 200
    assert again.json() == created["telegram"]
    listed_a = Api(restarted, token_a).call("GET", "/api/v1/integrations/channels").json()
    assert {i["id"] for i in listed_a["data"]} == {c["id"] for c in created.values()}


def _assert_tenant_b_sees_nothing(b: Api, created: dict[str, dict[str, Any]]) -> None:
    assert b.call("GET", "/api/v1/integrations/channels").json()["data"] == []
    for channel, integration in created.items():
        one = f"/api/v1/integrations/{integration['id']}"
        answers = [
            b.call("GET", one),
            b.call("PATCH", one, {"status": "disabled"}),
            b.call("DELETE", one),
            b.call("POST", f"{one}/test-message", {"to": "1", "text": "hi"}),
            b.call("POST", f"{one}/refresh-token"),
        ]
        assert [x.status for x in answers] == [404] * 5, (channel, answers)
        assert {x.json()["error"]["code"] for x in answers} == {"not_found"}
    for path in ("config", "analytics", "sessions"):
        theirs = b.call("GET", f"/api/v1/integrations/tawkto/{path}/{TENANT_A}")
        mine = b.call("GET", f"/api/v1/integrations/tawkto/{path}/{TENANT_B}")
        assert (theirs.status, mine.status) == (404, 404), (path, theirs, mine)
        # Nothing tells "tenant A exists" apart from "tenant B has no Tawk.to".
        assert theirs.json()["error"]["message"] == mine.json()["error"]["message"]
    changed = b.call("PUT", f"/api/v1/integrations/tawkto/config/{TENANT_A}", {"enabled": False})
    assert changed.status == 404
