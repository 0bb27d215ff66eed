"""CORS: preflights answered for configured origins only; responses labelled for them."""

from __future__ import annotations

from typing import Any

import pytest

ALLOWED = "https://app.example.com"
DENIED = "https://evil.example.net"

PREFLIGHT = {"Access-Control-Request-Method": "POST"}


@pytest.fixture
async def client(make_client: Any, make_services: Any) -> Any:
    services = make_services(
        settings={
            "allowed_origins": (ALLOWED, "http://localhost:3000"),
            "cors_max_age_seconds": 900,
        }
    )
    return await make_client(services)


async def test_a_preflight_from_an_allowed_origin_is_answered(client: Any) -> None:
    response = await client.options(
        "/api/v1/integrations/channels",
        headers={
            "Origin": ALLOWED,
            **PREFLIGHT,
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )

    assert response.status == 204
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    methods = {m.strip() for m in headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PATCH", "PUT", "DELETE"} <= methods
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {
        "authorization",
        "content-type",
        "idempotency-key",
        "x-request-id",
        # the Standard Webhooks headers our webchat widget signs its posts with
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert headers["Access-Control-Max-Age"] == "900"
    assert "Origin" in headers.getall("Vary")
    assert "Access-Control-Allow-Credentials" not in headers
    assert headers["X-Request-ID"]


async def test_a_preflight_from_another_origin_gets_no_cors_headers(client: Any) -> None:
    response = await client.options("/api/v1/health", headers={"Origin": DENIED, **PREFLIGHT})

    assert response.status == 204
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert response.headers["X-Request-ID"]


async def test_origins_match_exactly(client: Any) -> None:
    for near_miss in (f"{ALLOWED}:8443", "http://app.example.com", f"{ALLOWED}.evil.net"):
        response = await client.options(
            "/api/v1/health", headers={"Origin": near_miss, **PREFLIGHT}
        )

        assert "Access-Control-Allow-Origin" not in response.headers, near_miss


async def test_a_simple_request_from_an_allowed_origin_is_labelled(client: Any) -> None:
    response = await client.get("/api/v1/health", headers={"Origin": ALLOWED})

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers.getall("Vary")


async def test_an_error_for_an_allowed_origin_is_readable_by_the_page(client: Any) -> None:
    response = await client.get("/nowhere", headers={"Origin": ALLOWED})

    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


async def test_a_request_from_another_origin_is_not_labelled(client: Any) -> None:
    response = await client.get("/api/v1/health", headers={"Origin": DENIED})

    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_no_origins_configured_means_no_cors(make_client: Any) -> None:
    client = await make_client()

    response = await client.options("/api/v1/health", headers={"Origin": ALLOWED, **PREFLIGHT})

    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_wildcard_allows_any_origin(make_client: Any, make_services: Any) -> None:
    client = await make_client(make_services(settings={"allowed_origins": ("*",)}))

    preflight = await client.options("/api/v1/health", headers={"Origin": DENIED, **PREFLIGHT})
    simple = await client.get("/api/v1/health", headers={"Origin": DENIED})

    assert preflight.headers["Access-Control-Allow-Origin"] == DENIED
    assert simple.headers["Access-Control-Allow-Origin"] == DENIED


async def test_options_without_preflight_headers_is_not_a_preflight(client: Any) -> None:
    response = await client.options("/api/v1/health")

    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
