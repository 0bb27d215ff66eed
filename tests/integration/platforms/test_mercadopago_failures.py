"""MercadoPagoGateway when Mercado Pago fails: retries, rate limits, timeouts, refusals.

The fake fails or delays the next calls on request; the backoff is shrunk to milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tests.fakes.fake_mercadopago import OURS, FakeMercadoPago

from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, MercadoPagoGateway
from integration_core.credentials import Secret
from integration_core.errors import (
    InvalidCredentials,
    InvalidInput,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)
from integration_core.payments import CardPaymentRequest

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Build = Callable[..., MercadoPagoGateway]
FAST = attrs.evolve(DEFAULT_RETRIES, initial_backoff=0.001, max_backoff=0.005, max_retry_after=5)


@pytest.fixture
def fake() -> FakeMercadoPago:
    return FakeMercadoPago()


@pytest.fixture
async def build(fake: FakeMercadoPago, aiohttp_server: ServerFactory) -> AsyncIterator[Build]:
    base_url = str((await aiohttp_server(fake.app())).make_url(""))
    async with client_session() as session:

        def make(**options: Any) -> MercadoPagoGateway:
            settings: dict[str, Any] = {
                "access_token": Secret(OURS),
                "retry": attrs.evolve(FAST, attempts=4),
            } | options
            return MercadoPagoGateway(session=session, base_url=base_url, **settings)

        yield make


def _card(amount: str = "25.00") -> CardPaymentRequest:
    return CardPaymentRequest(
        payment_id="pay_1",
        amount=Decimal(amount),
        currency="ARS",
        description="A mug",
        card_token="card-tok",
        payment_method_id="master",
        payer_email="buyer@example.test",
    )


def _keys(fake: FakeMercadoPago) -> list[str | None]:
    return [r.headers.get("x-idempotency-key") for r in fake.requests_to("POST", "/v1/payments")]


async def test_503_twice_then_success_sends_the_same_idempotency_key_every_time(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.fail_next(2, status=503)
    payment = await build().create_payment(_card(), idempotency_key="key-1")

    assert _keys(fake) == ["key-1", "key-1", "key-1"]
    assert list(fake.payments) == [payment.provider_payment_id]


async def test_429_then_success_honours_retry_after(fake: FakeMercadoPago, build: Build) -> None:
    fake.fail_next(1, status=429, retry_after="0")
    payment = await build().create_payment(_card(), idempotency_key="key-1")

    assert payment.status == "approved"
    assert _keys(fake) == ["key-1", "key-1"]


async def test_429_after_all_retries_is_rate_limited_with_retry_after(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.fail_next(3, status=429, retry_after="0")
    with pytest.raises(PlatformRateLimited) as caught:
        await build(retry=attrs.evolve(FAST, attempts=3)).get_payment("1")

    assert caught.value.retry_after == 0
    assert len(fake.requests) == 3


async def test_a_retry_after_longer_than_we_wait_is_reported_at_once(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.fail_next(1, status=429, retry_after="120")
    with pytest.raises(PlatformRateLimited) as caught:
        await build().create_payment(_card(), idempotency_key="key-1")

    assert caught.value.retry_after == 120
    assert len(fake.requests) == 1


async def test_5xx_after_all_retries_is_unavailable(fake: FakeMercadoPago, build: Build) -> None:
    fake.fail_next(4, status=502)
    with pytest.raises(PlatformUnavailable, match="answered 502"):
        await build().create_payment(_card(), idempotency_key="key-1")

    assert _keys(fake) == ["key-1"] * 4
    assert fake.payments == {}


async def test_a_timed_out_charge_is_retried_and_charges_once(
    fake: FakeMercadoPago, build: Build
) -> None:
    # Mercado Pago makes the payment but answers too late; the retry gets the same payment.
    fake.delay_next(1, seconds=0.5)
    payment = await build(retry=attrs.evolve(FAST, timeout_seconds=0.2)).create_payment(
        _card(), idempotency_key="key-1"
    )

    assert _keys(fake) == ["key-1", "key-1"]
    assert list(fake.payments) == [payment.provider_payment_id]


async def test_timeouts_after_all_retries_are_unavailable(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.delay_next(2, seconds=0.5)
    with pytest.raises(PlatformUnavailable, match=r"could not be reached \(.*Timeout.*\)"):
        await build(retry=attrs.evolve(FAST, timeout_seconds=0.1, attempts=2)).get_payment("1")

    assert len(fake.requests) == 2


async def test_a_refused_connection_is_unavailable() -> None:
    async with client_session() as session:
        gateway = MercadoPagoGateway(
            session=session, base_url="http://127.0.0.1:9", access_token=Secret(OURS), retry=FAST
        )
        with pytest.raises(PlatformUnavailable, match="could not be reached"):
            await gateway.get_payment("1")


async def test_an_invalid_token_is_invalid_credentials_without_the_token(
    fake: FakeMercadoPago, build: Build
) -> None:
    token = "APP_USR-1234567890123456-revoked-token"
    with pytest.raises(InvalidCredentials) as caught:
        await build().get_payment("1", access_token=Secret(token))

    assert "invalid access token" in caught.value.message
    assert token not in str(caught.value)
    assert "revoked" not in repr(caught.value)
    assert len(fake.requests) == 1  # a refusal is final: no retry
    assert token in fake.requests[0].headers["authorization"]


async def test_a_refused_request_is_invalid_input_with_causes_and_no_retry(
    fake: FakeMercadoPago, build: Build
) -> None:
    fake.fail_next(1, status=400)
    with pytest.raises(InvalidInput, match="injected failure") as caught:
        await build().create_payment(_card(), idempotency_key="key-1")

    assert caught.value.problems == ()
    assert len(fake.requests) == 1


async def test_a_non_json_success_is_a_platform_error(aiohttp_server: ServerFactory) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>")

    app = web.Application()
    app.router.add_get("/v1/payments/1", html)
    server = await aiohttp_server(app)
    async with client_session() as session:
        gateway = MercadoPagoGateway(
            session=session, base_url=str(server.make_url("")), access_token=Secret(OURS)
        )
        with pytest.raises(PlatformError, match="not JSON"):
            await gateway.get_payment("1")


async def test_an_html_error_page_still_maps_by_status(aiohttp_server: ServerFactory) -> None:
    calls: list[str] = []

    async def gateway_error(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=504, text="<html>Gateway Timeout</html>")

    app = web.Application()
    app.router.add_get("/v1/payments/1", gateway_error)
    server = await aiohttp_server(app)
    async with client_session() as session:
        gateway = MercadoPagoGateway(
            session=session,
            base_url=str(server.make_url("")),
            access_token=Secret(OURS),
            retry=attrs.evolve(FAST, attempts=2),
        )
        with pytest.raises(PlatformUnavailable, match="answered 504: HTTP 504"):
            await gateway.get_payment("1")
    assert len(calls) == 2


async def test_messages_and_causes_reach_the_caller_without_any_secret(
    aiohttp_server: ServerFactory,
) -> None:
    token = "our-secret-token-value"
    body = {
        "message": f"bad token {token} and APP_USR-99999999-abcdef",
        "error": "bad_request",
        "cause": [{"code": 4020, "description": "card card-tok was used"}, {"code": 3}],
    }

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(body, status=400)

    app = web.Application()
    app.router.add_post("/v1/payments", refuse)
    base_url = str((await aiohttp_server(app)).make_url(""))
    with pytest.raises(InvalidInput) as caught:
        async with client_session() as session:
            await MercadoPagoGateway(
                session=session, base_url=base_url, access_token=Secret(token)
            ).create_payment(_card(), idempotency_key="key-1")

    assert caught.value.message == (
        "Mercado Pago POST /v1/payments: refused the request: bad token [REDACTED] and [REDACTED]"
    )
    assert caught.value.problems == ("4020: card [REDACTED] was used", "3")
