"""Every response carries X-Request-ID: the caller's if sane, else a new one."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web

from adapters_http import Rate, add_route

HEX_ID = re.compile(r"[0-9a-f]{32}")


async def test_a_sane_request_id_is_echoed(make_client: Any) -> None:
    client = await make_client()
    sane = "abc.DEF_123:xyz-42"

    response = await client.get("/api/v1/health", headers={"X-Request-ID": sane})

    assert response.status == 200
    assert response.headers["X-Request-ID"] == sane


async def test_a_request_id_is_generated_when_none_is_given(make_client: Any) -> None:
    client = await make_client()

    first = await client.get("/api/v1/health")
    second = await client.get("/api/v1/health")

    assert HEX_ID.fullmatch(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "junk",
    ["x" * 129, "has space", "semi;colon", 'quote"d', "<script>", "", "emoji-\u00e9"],
    ids=["too-long", "space", "semicolon", "quote", "markup", "empty", "non-ascii"],
)
async def test_a_junk_request_id_is_replaced(make_client: Any, junk: str) -> None:
    client = await make_client()

    response = await client.get(
        "/api/v1/health", headers={"X-Request-ID": junk.encode("utf-8").decode("latin-1")}
    )

    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])


async def test_the_longest_sane_request_id_is_kept(make_client: Any) -> None:
    client = await make_client()
    longest = "a" * 128

    response = await client.get("/api/v1/health", headers={"X-Request-ID": longest})

    assert response.headers["X-Request-ID"] == longest


async def test_error_responses_quote_the_request_id_in_header_and_body(make_client: Any) -> None:
    client = await make_client()

    response = await client.get("/nowhere", headers={"X-Request-ID": "trace-1"})

    assert response.status == 404
    assert response.headers["X-Request-ID"] == "trace-1"
    assert (await response.json())["error"]["request_id"] == "trace-1"


async def test_every_kind_of_response_has_a_request_id(
    make_client: Any, make_services: Any, make_rate_limiter: Any
) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("bug")

    def setup(app: web.Application) -> None:
        add_route(app, "GET", "/boom", boom)

    services = make_services(
        rate_limiter=make_rate_limiter(rates={"ip": Rate(rps=1, burst=6)}),
        settings={"allowed_origins": ("https://app.example",), "max_body_bytes": 10},
    )
    client = await make_client(services, setup)

    answers = [
        await client.get("/api/v1/health"),
        await client.get("/nowhere"),
        await client.post("/api/v1/health"),
        await client.get("/boom"),
        await client.post("/api/v1/health", data=b"x" * 11),
        await client.options(
            "/api/v1/health",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        ),
        await client.get("/api/v1/health"),
        await client.get("/api/v1/health"),  # the 7th hit is over the burst of 6
    ]

    assert [a.status for a in answers] == [200, 404, 405, 500, 413, 204, 200, 429]
    for answer in answers:
        assert HEX_ID.fullmatch(answer.headers["X-Request-ID"]), answer.status
