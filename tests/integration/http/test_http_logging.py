"""One structured access-log event per request, with no credentials in it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from structlog.testing import capture_logs

from adapters_http import add_route
from adapters_http.access_log import LOG_FIELD_LIMIT, TRUNCATED, bounded

FIELDS = {
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "request_id",
    "client_ip",
    "bytes_in",
    "bytes_out",
    "user_agent",
}


async def show_thing(request: web.Request) -> web.Response:
    return web.json_response({"id": request.match_info["id"]})


async def create_thing(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"created": True}, status=201)


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/things/{id}", show_thing)
    add_route(app, "POST", "/things", create_thing)


def access_events(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "http_request"]


async def test_each_request_logs_one_event_with_its_fields(make_client: Any) -> None:
    client = await make_client(setup=setup)

    with capture_logs() as logs:
        response = await client.get(
            "/things/thing_42/",
            headers={"X-Request-ID": "log-1", "User-Agent": "probe/1.0"},
        )

    assert response.status == 200
    [event] = access_events(logs)
    assert set(event) >= FIELDS
    assert event["log_level"] == "info"
    assert event["method"] == "GET"
    assert event["route"] == "/things/{id}"
    assert event["path"] == "/things/thing_42/"
    assert event["status"] == 200
    assert event["duration_ms"] >= 0
    assert event["request_id"] == "log-1"
    assert event["client_ip"] == "127.0.0.1"
    assert event["user_agent"] == "probe/1.0"
    assert event["bytes_out"] == len(await response.read())


async def test_bytes_in_counts_the_body(make_client: Any) -> None:
    client = await make_client(setup=setup)

    with capture_logs() as logs:
        await client.post("/things", data=b"x" * 100)

    [event] = access_events(logs)
    assert event["bytes_in"] == 100
    assert event["status"] == 201
    assert event["route"] == "/things"


async def test_errors_and_unmatched_paths_are_logged_once(make_client: Any) -> None:
    client = await make_client(setup=setup)

    with capture_logs() as logs:
        await client.get("/nowhere/int_9")
        await client.delete("/things/x")

    events = access_events(logs)
    assert [(e["route"], e["status"]) for e in events] == [("unmatched", 404), ("unmatched", 405)]


async def test_credentials_never_reach_the_log(make_client: Any) -> None:
    client = await make_client(setup=setup)
    secrets = ("VERIFYSECRET1", "ACCESSSECRET2", "BEARERSECRET3", "CLIENTSECRET4")

    with capture_logs() as logs:
        await client.get(
            "/things/t1",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": secrets[0],
                "access_token": secrets[1],
                "client_secret": secrets[3],
                "page": "2",
            },
            headers={"Authorization": f"Bearer {secrets[2]}", "Cookie": "session=abc"},
        )

    [event] = access_events(logs)
    text = repr(logs)
    for secret in secrets:
        assert secret not in text
    assert "session=abc" not in text
    assert "hub.mode=subscribe" in event["query"]
    assert "page=2" in event["query"]
    assert "hub.verify_token=[REDACTED]" in event["query"]
    assert "access_token=[REDACTED]" in event["query"]
    assert event["path"] == "/things/t1"


async def test_long_paths_and_query_values_are_cut_to_a_bounded_length(make_client: Any) -> None:
    client = await make_client(setup=setup)
    token = "EAAGm0PX4ZCpsBAKZCZBZC0Example12345678"
    # The cut falls inside the token: it is left out whole, never half logged.
    straddling = "x" * (LOG_FIELD_LIMIT - 10) + "." + token

    with capture_logs() as logs:
        await client.get(
            "/things/" + "a." * 3000, params={"q": straddling, "n" * 600: "1", "page": "2"}
        )

    [event] = access_events(logs)
    assert event["path"] == ("/things/" + "a." * 3000)[:LOG_FIELD_LIMIT] + TRUNCATED
    assert event["query"] == (
        # The long name is one run of token characters: nothing of it is kept.
        f"q={'x' * (LOG_FIELD_LIMIT - 10)}.{TRUNCATED}&{TRUNCATED}=1&page=2"
    )
    assert "EAAGm0" not in event["query"]
    assert event["route"] == "/things/{id}"


def test_bounded_keeps_short_text_and_cuts_long_text_at_a_token_boundary() -> None:
    assert bounded("/webhooks/whatsapp") == "/webhooks/whatsapp"
    assert bounded("a" * LOG_FIELD_LIMIT) == "a" * LOG_FIELD_LIMIT
    assert bounded("/" + "a" * LOG_FIELD_LIMIT) == "/" + TRUNCATED
    assert bounded("/abc/def:ghi", limit=10) == "/abc/def:" + TRUNCATED
