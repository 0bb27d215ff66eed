"""Refreshing a seller's OAuth token against the fake Mercado Pago: rotation and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tests.fakes.fake_mercadopago import CLIENT_ID, CLIENT_SECRET, OURS, FakeMercadoPago

from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, MercadoPagoGateway
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidCredentials, NotFound
from integration_core.testing import FrozenClock

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Build = Callable[..., MercadoPagoGateway]
CLOCK = FrozenClock()


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
                "client_id": CLIENT_ID,
                "client_secret": Secret(CLIENT_SECRET),
                "retry": attrs.evolve(DEFAULT_RETRIES, initial_backoff=0.001),
                "clock": CLOCK,
            } | options
            return MercadoPagoGateway(session=session, base_url=base_url, **settings)

        yield make


async def test_refresh_rotates_both_tokens_and_the_old_refresh_token_is_refused(
    fake: FakeMercadoPago, build: Build
) -> None:
    old_access, old_refresh = fake.connect_seller(2002)
    gateway = build()

    fresh = await gateway.refresh_oauth_token(Secret(old_refresh))

    [sent] = fake.requests_to("POST", "/oauth/token")
    assert sent.json() == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": old_refresh,
    }
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert "x-idempotency-key" not in sent.headers
    assert fresh.refresh_token is not None
    assert fresh.access_token.reveal() not in {old_access, OURS}
    assert fresh.refresh_token.reveal() != old_refresh
    assert fresh.expires_at == CLOCK.now() + timedelta(seconds=15552000)
    # The new access token works for the seller's account...
    with pytest.raises(NotFound):
        await gateway.get_payment("1", access_token=fresh.access_token)
    # ...and the old refresh token is spent: the seller would have to authorize again.
    with pytest.raises(InvalidCredentials, match="invalid_grant") as caught:
        await gateway.refresh_oauth_token(Secret(old_refresh))
    assert old_refresh not in str(caught.value)
    again = await gateway.refresh_oauth_token(fresh.refresh_token)
    assert again.refresh_token != fresh.refresh_token


async def test_a_wrong_client_secret_is_invalid_credentials_without_the_secret(
    fake: FakeMercadoPago, build: Build
) -> None:
    _, refresh = fake.connect_seller(2002)
    wrong = "wrong-client-secret-value"
    with pytest.raises(InvalidCredentials, match="invalid_client") as caught:
        await build(client_secret=Secret(wrong)).refresh_oauth_token(Secret(refresh))

    assert wrong not in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_refresh_survives_a_503(fake: FakeMercadoPago, build: Build) -> None:
    _, refresh = fake.connect_seller(2002)
    fake.fail_next(1, status=503)

    fresh = await build().refresh_oauth_token(Secret(refresh))

    assert fresh.access_token.reveal() in fake.tokens
    assert len(fake.requests_to("POST", "/oauth/token")) == 2


async def test_refresh_needs_our_client_credentials(fake: FakeMercadoPago, build: Build) -> None:
    with pytest.raises(ConfigurationError, match="MP_CLIENT_ID and MP_CLIENT_SECRET"):
        await build(client_secret=None).refresh_oauth_token(Secret("TG-whatever"))
    assert fake.requests == []
