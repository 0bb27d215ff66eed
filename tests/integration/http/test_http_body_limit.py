"""Bodies: size limit before and while reading, JSON content type, parse and shape errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web

from adapters_http import add_route, read_body, read_json
from integration_core.serialization import make_converter

LIMIT = 64


@attrs.frozen(kw_only=True)
class Order:
    name: str
    quantity: int


async def create_order(request: web.Request) -> web.Response:
    converter = make_converter(forbid_extra_keys=True)
    order = await read_json(request, converter, Order)
    return web.json_response(converter.unstructure(order), status=201)


async def echo(request: web.Request) -> web.Response:
    body = await read_body(request)
    again = await read_body(request)
    assert body == again
    return web.Response(body=body)


def setup(app: web.Application) -> None:
    add_route(app, "POST", "/orders", create_order)
    add_route(app, "POST", "/echo", echo)


@pytest.fixture
async def client(make_client: Any, make_services: Any) -> Any:
    return await make_client(make_services(settings={"max_body_bytes": LIMIT}), setup)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def error_code(response: Any) -> str:
    assert response.content_type == "application/json"
    code: str = (await response.json())["error"]["code"]
    return code


async def test_a_json_body_is_structured(client: Any) -> None:
    response = await client.post("/orders", json={"name": "tea", "quantity": 2})

    assert response.status == 201
    assert await response.json() == {"name": "tea", "quantity": 2}


async def test_post_works_with_a_trailing_slash(client: Any) -> None:
    response = await client.post("/orders/", json={"name": "tea", "quantity": 2})

    assert response.status == 201
    assert response.history == ()


async def test_a_charset_parameter_is_fine(client: Any) -> None:
    response = await client.post(
        "/orders",
        data=b'{"name": "t\xc3\xa9", "quantity": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status == 201
    assert (await response.json())["name"] == "t\u00e9"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_415(client: Any, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await client.post("/orders", data=b'{"name": "tea"}', headers=headers)

    assert response.status == 415
    assert await error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize("body", [b"{", b"", b"{'name': 1}", b"\xff\xfe", b"[1,]"])
async def test_malformed_json_is_400_invalid_json(client: Any, body: bytes) -> None:
    response = await client.post("/orders", data=body, headers={"Content-Type": "application/json"})

    assert response.status == 400
    assert await error_code(response) == "invalid_json"


async def test_a_body_of_the_wrong_shape_lists_its_problems(client: Any) -> None:
    response = await client.post("/orders", json={"name": 1, "quantity": "many", "colour": "red"})

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_request"
    problems = error["details"]["problems"]
    assert any("$.quantity" in p for p in problems), problems
    assert any("colour" in p for p in problems), problems


async def test_a_missing_field_is_named(client: Any) -> None:
    response = await client.post("/orders", json={"name": "tea"})

    problems = (await response.json())["error"]["details"]["problems"]
    assert any("$.quantity" in p and "required" in p for p in problems), problems


@pytest.mark.parametrize("document", [b"[1, 2]", b'"text"', b"3", b"null"])
async def test_json_that_is_not_an_object_is_invalid_request(client: Any, document: bytes) -> None:
    response = await client.post(
        "/orders", data=document, headers={"Content-Type": "application/json"}
    )

    assert response.status == 400
    assert await error_code(response) == "invalid_request"


async def test_a_declared_length_over_the_limit_is_413_unread(client: Any) -> None:
    response = await client.post("/echo", data=b"x" * (LIMIT + 1))

    assert response.status == 413
    assert await error_code(response) == "payload_too_large"


async def test_a_body_at_the_limit_is_read(client: Any) -> None:
    response = await client.post("/echo", data=b"x" * LIMIT)

    assert response.status == 200
    assert await response.read() == b"x" * LIMIT


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(client: Any) -> None:
    response = await client.post("/echo", data=chunks(b"x" * 40, b"y" * 40, b"z" * 40))

    assert response.status == 413
    assert await error_code(response) == "payload_too_large"


async def test_a_small_chunked_body_is_read(client: Any) -> None:
    response = await client.post("/echo", data=chunks(b"ab", b"cd"))

    assert response.status == 200
    assert await response.read() == b"abcd"


async def test_a_chunked_json_body_over_the_limit_is_413(client: Any) -> None:
    response = await client.post(
        "/orders",
        data=chunks(b'{"name": "', b"x" * LIMIT, b'", "quantity": 1}'),
        headers={"Content-Type": "application/json"},
    )

    assert response.status == 413


async def test_the_limit_applies_to_routes_that_do_not_read_the_body(client: Any) -> None:
    response = await client.post("/api/v1/health", data=b"x" * (LIMIT + 1))

    assert response.status == 413
