"""The Tawk.to routes of the original service, over the fakes: config, analytics, sessions.

Events arrive the way production gets them: signed Tawk.to webhooks through the real intake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from adapters_http.services import SERVICES
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.signatures import tawkto
from integration_core.testing import FakeChannelSetup, FrozenClock, InMemoryCredentialStore
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_core.use_cases.tawkto_config import GetTawkToConfig, UpdateTawkToConfig
from integration_core.use_cases.tawkto_reports import TawkToReports

from .conftest import TAWKTO_SECRET, MakeClient, MakeServices, drain_spool

ROOT = "/api/v1/integrations"
TAWK = f"{ROOT}/tawkto"
API_KEY = "tawk-api-key-0123456789-SECRETVALUE"
OWN_SECRET = "tawk-own-webhook-secret-SECRETVALUE"


@pytest.fixture
async def client(
    *,
    make_client: MakeClient,
    make_services: MakeServices,
    credentials: InMemoryCredentialStore,
    clock: FrozenClock,
) -> Any:
    base = make_services()
    stores = {"integrations": base.integrations, "credentials": credentials}
    setups = {
        Channel.TAWKTO: FakeChannelSetup(
            channel=Channel.TAWKTO,
            valid_tokens=(API_KEY, "tawk-rotated-key-0123456789"),
            token_field="api_key",
            external_id_field="property_id",
        )
    }
    services = make_services(
        integrations=base.integrations,
        events=base.events,
        connect_integration=ConnectIntegration(
            **stores, setups=setups, clock=clock, base_url="https://hooks.example.com"
        ),
        get_tawkto_config=GetTawkToConfig(**stores),
        update_tawkto_config=UpdateTawkToConfig(**stores, setups=setups, clock=clock),
        tawkto_reports=TawkToReports(
            integrations=base.integrations, events=base.events, clock=clock
        ),
    )
    return await make_client(services)


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(*scopes: str, tenant: str = "tenant-1") -> dict[str, str]:
        scopes = scopes or ("integrations:read", "integrations:write")
        return {"Authorization": f"Bearer {token_for(*scopes, tenant=tenant)}"}

    return make


async def connect(
    client: Any, auth: Callable[..., dict[str, str]], property_id: str = "prop-1", **extra: str
) -> dict[str, Any]:
    body = {"property_id": property_id, "webhook_secret": OWN_SECRET, "api_key": API_KEY}
    response = await client.post(f"{TAWK}/setup", json={**body, **extra}, headers=auth())
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def deliver(
    client: Any,
    event: str,
    chat_id: str,
    at: str,
    *,
    property_id: str = "prop-1",
    secret: Secret = TAWKTO_SECRET,
    integration_id: str | None = None,
) -> int:
    """Post a signed Tawk.to event (to the integration's own route when *integration_id* is
    given, else the shared one) and split what was spooled, as the worker would."""
    payload: dict[str, Any] = {
        "event": event,
        "time": at,
        "property": {"id": property_id, "name": "Shop"},
    }
    if event == "ticket:create":
        payload["ticket"] = {"id": chat_id, "humanId": 7, "subject": "Help"}
        payload["requester"] = {"name": "Ana", "email": "ana@example.com"}
    else:
        payload["chatId"] = chat_id
        payload["visitor"] = {"name": "Ana", "country": "AR"}
    if event == "chat:start":
        payload["message"] = {"text": f"hi from {chat_id}", "sender": {"type": "visitor"}}
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", tawkto.HEADER: tawkto.sign(secret, body)}
    path = f"{ROOT}/webhooks/tawkto" + (f"/{integration_id}" if integration_id else "")
    response = await client.post(path, data=body, headers=headers)
    await drain_spool(client.server.app[SERVICES])
    return int(response.status)


# --------------------------------------------------------------------------- config


async def test_get_config_shows_the_tenants_tawkto_integration(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    created = await connect(client, auth, widget_id="w-1")

    response = await client.get(f"{TAWK}/config/tenant-1", headers=auth("integrations:read"))

    assert response.status == 200
    body = await response.json()
    assert body == {
        "tenant_id": "tenant-1",
        "integration_id": created["id"],
        "property_id": "prop-1",
        "widget_id": "w-1",
        "enabled": True,
        "status": "active",
        "property_verified": None,
        "webhook_url": (
            f"https://hooks.example.com/api/v1/integrations/webhooks/tawkto/{created['id']}"
        ),
        "secrets_masked": {"api_key": "****ALUE", "webhook_secret": "****ALUE"},
        "updated_at": created["updated_at"],
    }
    text = await response.text()
    assert API_KEY not in text
    assert OWN_SECRET not in text


async def test_another_tenant_or_no_tawkto_is_404(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    await connect(client, auth)
    other = auth(tenant="tenant-2")

    answers = [
        await client.get(f"{TAWK}/config/tenant-1", headers=other),
        await client.put(f"{TAWK}/config/tenant-1", json={"enabled": False}, headers=other),
        await client.get(f"{TAWK}/analytics/tenant-1", headers=other),
        await client.get(f"{TAWK}/sessions/tenant-1", headers=other),
        await client.get(f"{TAWK}/config/tenant-2", headers=other),
        await client.get(f"{TAWK}/analytics/tenant-2/", headers=other),
        await client.get(f"{TAWK}/sessions/tenant-2", headers=other),
    ]

    assert [a.status for a in answers] == [404] * 7
    bodies = [await a.json() for a in answers]
    assert {b["error"]["code"] for b in bodies} == {"not_found"}
    # The same answer whether tenant-1 exists or not: nothing is revealed.
    assert bodies[0]["error"]["message"] == bodies[4]["error"]["message"]


async def test_scopes_are_enforced(client: Any, auth: Callable[..., dict[str, str]]) -> None:
    await connect(client, auth)
    read_only = auth("integrations:read")
    events_only = auth("events:read")

    assert (await client.get(f"{TAWK}/config/tenant-1", headers=read_only)).status == 200
    put = await client.put(f"{TAWK}/config/tenant-1", json={"enabled": False}, headers=read_only)
    assert put.status == 403
    for path in ("config", "analytics", "sessions"):
        assert (await client.get(f"{TAWK}/{path}/tenant-1", headers=events_only)).status == 403
        assert (await client.get(f"{TAWK}/{path}/tenant-1")).status == 401


async def test_put_changes_widget_and_enabled(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    await connect(client, auth, widget_id="w-1")
    url = f"{TAWK}/config/tenant-1"

    disabled = await client.put(url, json={"enabled": False, "widget_id": "w-2"}, headers=auth())
    assert disabled.status == 200
    body = await disabled.json()
    assert (body["enabled"], body["status"], body["widget_id"]) == (False, "disabled", "w-2")
    assert (await (await client.get(url, headers=auth())).json())["widget_id"] == "w-2"

    enabled = await client.put(url, json={"enabled": True, "widget_id": None}, headers=auth())
    body = await enabled.json()
    assert (body["enabled"], body["status"], body["widget_id"]) == (True, "active", None)


async def test_put_checks_a_new_api_key_with_tawkto(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    await connect(client, auth)
    url = f"{TAWK}/config/tenant-1"

    refused = await client.put(url, json={"api_key": "wrong-key-0123456789"}, headers=auth())
    assert refused.status == 422
    assert (await refused.json())["error"]["code"] == "invalid_credentials"

    accepted = await client.put(
        url, json={"api_key": "tawk-rotated-key-0123456789"}, headers=auth()
    )
    assert accepted.status == 200
    body = await accepted.json()
    assert body["secrets_masked"]["api_key"] == "****6789"
    assert "tawk-rotated-key" not in await accepted.text()


async def test_a_new_webhook_secret_verifies_deliveries_at_once(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    created = await connect(client, auth)
    rotated = Secret("tawk-rotated-webhook-secret-0123")
    own = {"secret": rotated, "integration_id": created["id"]}
    assert await deliver(client, "chat:start", "c-1", "2026-01-01T00:00:00Z", **own) == 401

    response = await client.put(
        f"{TAWK}/config/tenant-1", json={"webhook_secret": rotated.reveal()}, headers=auth()
    )

    assert response.status == 200
    assert await deliver(client, "chat:start", "c-1", "2026-01-01T00:00:00Z", **own) == 200


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"property_id": "prop-9"}, "property_id is not a field of the Tawk.to configuration"),
        ({"enabled": "false"}, "enabled must be true or false"),
        ({"widget_id": 3}, "widget_id must be a string"),
        ({"webhook_secret": "  "}, "webhook_secret must not be empty"),
    ],
)
async def test_put_refuses_bad_bodies(
    client: Any, auth: Callable[..., dict[str, str]], body: dict[str, Any], problem: str
) -> None:
    await connect(client, auth)

    response = await client.put(f"{TAWK}/config/tenant-1", json=body, headers=auth())

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert problem in error["details"]["problems"]


async def test_several_properties_need_a_property_id(
    client: Any, auth: Callable[..., dict[str, str]]
) -> None:
    await connect(client, auth, "prop-1")
    await connect(client, auth, "prop-2")

    ambiguous = await client.get(f"{TAWK}/config/tenant-1", headers=auth())
    named = await client.get(f"{TAWK}/config/tenant-1?property_id=prop-2", headers=auth())
    unknown = await client.get(f"{TAWK}/config/tenant-1?property_id=prop-9", headers=auth())

    assert ambiguous.status == 400
    assert named.status == 200
    assert (await named.json())["property_id"] == "prop-2"
    assert unknown.status == 404


# --------------------------------------------------------------------------- reports


async def test_analytics_count_chats_once_and_tickets(
    client: Any, auth: Callable[..., dict[str, str]], clock: FrozenClock
) -> None:
    await connect(client, auth)
    day = clock.now().date().isoformat()
    statuses = [
        await deliver(client, "chat:start", "c-1", f"{day}T10:00:00Z"),
        await deliver(client, "chat:start", "c-2", f"{day}T10:05:00Z"),
        await deliver(client, "chat:end", "c-1", f"{day}T10:02:00Z"),
        # The transcript of c-1 arrives later: still one ended chat.
        await deliver(client, "chat:transcript_created", "c-1", f"{day}T10:05:00Z"),
        await deliver(client, "ticket:create", "t-1", f"{day}T11:00:00Z"),
    ]
    assert statuses == [200] * 5
    clock.advance(timedelta(seconds=1))

    response = await client.get(f"{TAWK}/analytics/tenant-1", headers=auth("integrations:read"))

    assert response.status == 200
    body = await response.json()
    assert body["chats"] == {
        "started": 2,
        "ended": 1,
        "active": 1,
        "average_duration_seconds": 120.0,
    }
    assert body["tickets"] == {"created": 1}
    assert body["complete"] is True
    assert body["by_day"] == [
        {"date": day, "chats_started": 2, "chats_ended": 2, "tickets_created": 1}
    ]


async def test_analytics_window_and_property_filter(
    client: Any, auth: Callable[..., dict[str, str]], clock: FrozenClock
) -> None:
    await connect(client, auth, "prop-1")
    await connect(client, auth, "prop-2")
    await deliver(client, "chat:start", "c-1", "2026-01-01T10:00:00Z")
    await deliver(client, "chat:start", "c-2", "2026-01-01T10:00:00Z", property_id="prop-2")
    start = clock.now()
    clock.advance(timedelta(hours=2))
    await deliver(client, "chat:start", "c-3", "2026-01-01T12:00:00Z")
    clock.advance(timedelta(seconds=1))
    url = f"{TAWK}/analytics/tenant-1"

    everything = await (await client.get(url, headers=auth())).json()
    only_two = await (await client.get(f"{url}?property_id=prop-2", headers=auth())).json()
    later = start + timedelta(hours=1)
    windowed = await client.get(
        url, params={"from": later.isoformat(), "property_id": "prop-1"}, headers=auth()
    )
    reversed_window = await client.get(
        url, params={"from": later.isoformat(), "to": start.isoformat()}, headers=auth()
    )

    assert everything["chats"]["started"] == 3
    assert only_two["chats"]["started"] == 1
    assert only_two["property_id"] == "prop-2"
    assert (await windowed.json())["chats"]["started"] == 1
    assert reversed_window.status == 400


async def test_sessions_are_the_chats_started_and_not_ended(
    client: Any, auth: Callable[..., dict[str, str]], clock: FrozenClock
) -> None:
    created = await connect(client, auth)
    await deliver(client, "chat:start", "c-1", "2026-01-01T10:00:00Z")
    await deliver(client, "chat:start", "c-2", "2026-01-01T10:05:00Z")
    await deliver(client, "chat:end", "c-1", "2026-01-01T10:09:00Z")
    clock.advance(timedelta(seconds=1))
    url = f"{TAWK}/sessions/tenant-1"

    response = await client.get(url, headers=auth("integrations:read"))

    assert response.status == 200
    body = await response.json()
    assert body["count"] == 1
    assert body["data"] == [
        {
            "conversation_id": "c-2",
            "integration_id": created["id"],
            "started_at": "2026-01-01T10:05:00.000Z",
            "visitor": {"name": "Ana", "country": "AR"},
            "first_message": "hi from c-2",
        }
    ]
    await deliver(client, "chat:end", "c-2", "2026-01-01T10:20:00Z")
    clock.advance(timedelta(seconds=1))
    assert (await (await client.get(url, headers=auth())).json())["data"] == []
    clock.advance(timedelta(hours=25))
    await deliver(client, "chat:start", "c-3", "2026-01-02T12:00:00Z")
    clock.advance(timedelta(seconds=1))
    recent = await (await client.get(f"{url}?hours=1", headers=auth())).json()
    assert [s["conversation_id"] for s in recent["data"]] == ["c-3"]
    assert (await client.get(f"{url}?hours=0", headers=auth())).status == 400
    assert (await client.get(f"{url}?bogus=1", headers=auth())).status == 400
