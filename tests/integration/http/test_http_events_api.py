"""The events API: list, filter and page the tenant's events; show one; replay it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration_core.channels import Channel
from integration_core.events import DeliveryStatus, EventRecord, EventType
from integration_core.ids import TenantId, new_id

EVENTS = "/api/v1/events"
START = datetime(2026, 1, 1, tzinfo=UTC)
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# (channel, status, minutes after START) of tenant-1's events, oldest first.
MINE = [
    (Channel.WHATSAPP, DeliveryStatus.DELIVERED),
    (Channel.WHATSAPP, DeliveryStatus.PENDING),
    (Channel.TELEGRAM, DeliveryStatus.DEAD),
    (Channel.TELEGRAM, DeliveryStatus.DELIVERED),
    (Channel.WEBCHAT, DeliveryStatus.IGNORED),
    (Channel.WHATSAPP, DeliveryStatus.DEAD),
    (Channel.TAWKTO, DeliveryStatus.PENDING),
]


def record(n: int, channel: Channel, status: DeliveryStatus, tenant: str) -> EventRecord:
    received = START + timedelta(minutes=n)
    delivered = status is DeliveryStatus.DELIVERED
    return EventRecord(
        id=new_id("evt", now_ms=int(received.timestamp() * 1000)),
        channel=channel,
        dedupe_key=f"{tenant}:{n}",
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=TenantId(tenant),
        integration_id=f"int_{tenant}_{channel}",
        status=status,
        attempts=10 if status is DeliveryStatus.DEAD else int(delivered),
        last_error="HTTP 500 from the messaging service" if status is DeliveryStatus.DEAD else None,
        occurred_at=received,
        received_at=received,
        delivered_at=received + timedelta(seconds=1) if delivered else None,
    )


@pytest.fixture
async def services(make_services: Any) -> Any:
    return make_services()


@pytest.fixture
async def stored(services: Any) -> dict[str, list[EventRecord]]:
    mine = [record(n, c, s, "tenant-1") for n, (c, s) in enumerate(MINE)]
    theirs = [record(100 + n, Channel.WHATSAPP, DeliveryStatus.DEAD, "tenant-2") for n in range(2)]
    await services.events.record(None, mine + theirs)
    return {"mine": mine, "theirs": theirs}


@pytest.fixture
async def client(make_client: Any, services: Any, stored: Any) -> Any:
    return await make_client(services)


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def make(*scopes: str, tenant: str = "tenant-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(*scopes, tenant=tenant)}"}

    return make


async def list_all(client: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; return every item in the order served."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(EVENTS, params=query, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        items.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the listing never ended")


async def test_the_list_shows_the_tenants_events_newest_first(
    client: Any, auth: Any, stored: Any
) -> None:
    response = await client.get(EVENTS, headers=auth("events:read"))

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.json()
    assert page["next_cursor"] is None
    assert [e["id"] for e in page["data"]] == [e.id for e in reversed(stored["mine"])]
    first = page["data"][-1]
    assert set(first) == {
        "id",
        "type",
        "channel",
        "integration_id",
        "status",
        "attempts",
        "last_error",
        "received_at",
        "delivered_at",
    }
    assert first["type"] == "message.received"
    assert first["channel"] == "whatsapp"
    assert first["status"] == "delivered"
    assert RFC3339_Z.match(first["received_at"])
    assert RFC3339_Z.match(first["delivered_at"])
    assert first["received_at"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_paging_serves_every_item_exactly_once(
    client: Any, auth: Any, stored: Any, limit: int
) -> None:
    items = await list_all(client, auth("events:read"), limit=limit)

    assert [e["id"] for e in items] == [e.id for e in reversed(stored["mine"])]


async def test_the_default_page_is_50_and_the_largest_200(
    client: Any, services: Any, auth: Any
) -> None:
    many = [
        record(1000 + n, Channel.TELEGRAM, DeliveryStatus.PENDING, "tenant-1") for n in range(250)
    ]
    await services.events.record(None, many)

    default = await (await client.get(EVENTS, headers=auth("events:read"))).json()
    largest = await (
        await client.get(EVENTS, params={"limit": "200"}, headers=auth("events:read"))
    ).json()

    assert len(default["data"]) == 50
    assert len(largest["data"]) == 200
    assert largest["next_cursor"] is not None


async def test_filters_combine_with_paging(client: Any, auth: Any, stored: Any) -> None:
    headers = auth("events:read")
    mine = stored["mine"]

    dead = await list_all(client, headers, status="dead", limit=1)
    telegram = await list_all(client, headers, channel="telegram")
    window = await list_all(
        client,
        headers,
        received_after="2026-01-01t00:02:00z",
        received_before="2026-01-01T00:05:00+00:00",
    )
    dead_whatsapp = await list_all(client, headers, status="dead", channel="whatsapp")

    assert [e["id"] for e in dead] == [mine[5].id, mine[2].id]
    assert all(e["last_error"] and e["attempts"] == 10 for e in dead)
    assert [e["id"] for e in telegram] == [mine[3].id, mine[2].id]
    assert [e["id"] for e in window] == [mine[4].id, mine[3].id, mine[2].id], "after <=, < before"
    assert [e["id"] for e in dead_whatsapp] == [mine[5].id]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "done"}, "status must be one of: pending, delivered, dead, ignored"),
        ({"channel": "fax"}, "channel must be one of"),
        ({"limit": "0"}, "limit must be an integer between 1 and 200"),
        ({"limit": "201"}, "limit must be an integer between 1 and 200"),
        ({"limit": "ten"}, "limit must be an integer between 1 and 200"),
        ({"limit": "1_0"}, "limit must be an integer between 1 and 200"),
        ({"received_after": "yesterday"}, "received_after must be an RFC 3339 timestamp"),
        ({"received_before": "2026-01-01T00:00:00"}, "received_before must be an RFC 3339"),
        (
            {"received_after": "2026-01-02T00:00:00Z", "received_before": "2026-01-01T00:00:00Z"},
            "received_after must be earlier than received_before",
        ),
        ({"stauts": "dead"}, "stauts is not a known parameter"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_invalid_filters_are_400_with_a_clear_message(
    client: Any, auth: Any, params: dict[str, str], fragment: str
) -> None:
    response = await client.get(EVENTS, params=params, headers=auth("events:read"))

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    assert fragment in error["message"]


async def test_every_problem_is_listed_at_once(client: Any, auth: Any) -> None:
    response = await client.get(
        EVENTS + "?status=done&limit=0&status=dead&extra=1", headers=auth("events:read")
    )

    problems = (await response.json())["error"]["details"]["problems"]
    assert problems == [
        "status must be given at most once",
        "limit must be an integer between 1 and 200",
        "extra is not a known parameter",
    ]


async def test_one_event_is_shown(client: Any, auth: Any, stored: Any) -> None:
    event = stored["mine"][2]

    response = await client.get(f"{EVENTS}/{event.id}/", headers=auth("events:read"))

    assert response.status == 200
    body = await response.json()
    assert body["id"] == event.id
    assert body["status"] == "dead"
    assert body["delivered_at"] is None


async def test_another_tenants_event_is_not_found_and_never_listed(
    client: Any, auth: Any, stored: Any
) -> None:
    theirs = stored["theirs"][0]

    shown = await client.get(f"{EVENTS}/{theirs.id}", headers=auth("events:read"))
    replayed = await client.post(
        f"{EVENTS}/{theirs.id}/replay", headers=auth("events:read", "events:write")
    )
    listed = await list_all(client, auth("events:read"), limit=2)
    missing = await client.get(f"{EVENTS}/evt_nothing", headers=auth("events:read"))

    assert (shown.status, replayed.status, missing.status) == (404, 404, 404)
    assert (await shown.json())["error"] == {
        **(await missing.json())["error"],
        "message": f"event {theirs.id} was not found",
        "request_id": shown.headers["X-Request-ID"],
    }
    assert theirs.id not in {e["id"] for e in listed}
    assert len(await list_all(client, auth("events:read", tenant="tenant-2"))) == 2


async def test_a_replay_queues_the_same_event_again(
    client: Any, services: Any, auth: Any, stored: Any, clock: Any
) -> None:
    dead = stored["mine"][2]

    response = await client.post(f"{EVENTS}/{dead.id}/replay", headers=auth("events:write"))

    assert response.status == 202
    body = await response.json()
    assert body["id"] == dead.id
    assert body["status"] == "pending"
    assert response.headers["Location"] == f"{EVENTS}/{dead.id}"
    shown = await client.get(f"{EVENTS}/{dead.id}", headers=auth("events:read"))
    assert (await shown.json())["status"] == "pending"
    [due] = [
        e
        for e in await services.events.claim_due(
            now=clock.now(), limit=100, lease=timedelta(minutes=1)
        )
        if e.id == dead.id
    ]
    assert due.next_attempt_at == clock.now()


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", EVENTS, "events:write"),
        ("GET", f"{EVENTS}/{{id}}", "events:write"),
        ("POST", f"{EVENTS}/{{id}}/replay", "events:read"),
        ("GET", EVENTS, "integrations:read"),
    ],
)
async def test_the_wrong_scope_is_403(
    client: Any, auth: Any, stored: Any, *, method: str, path: str, scope: str
) -> None:
    url = path.format(id=stored["mine"][0].id)

    response = await client.request(method, url, headers=auth(scope))

    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", EVENTS), ("GET", f"{EVENTS}/x"), ("POST", f"{EVENTS}/x/replay")]
)
async def test_no_token_is_401(client: Any, method: str, path: str) -> None:
    response = await client.request(method, path)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_storage_down_is_503_with_retry_after(client: Any, services: Any, auth: Any) -> None:
    services.events.available = False

    response = await client.get(EVENTS, headers=auth("events:read"))

    assert response.status == 503
    assert response.headers["Retry-After"]
