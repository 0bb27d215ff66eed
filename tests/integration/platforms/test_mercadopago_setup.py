"""MercadoPagoSetup (a tenant's own seller account) against the fake Mercado Pago on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tests.fakes.fake_mercadopago import CLIENT_ID, CLIENT_SECRET, OURS, FakeMercadoPago

from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import DEFAULT_RETRIES, MercadoPagoGateway, MercadoPagoSetup
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import Conflict, InvalidCredentials, InvalidInput, NotFound
from integration_core.payments import CheckoutRequest
from integration_core.testing import FrozenClock

from .platform_support import assert_secret_free, integration

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
def fake() -> FakeMercadoPago:
    return FakeMercadoPago()


@pytest.fixture
async def gateway(
    fake: FakeMercadoPago, aiohttp_server: ServerFactory
) -> AsyncIterator[MercadoPagoGateway]:
    base_url = str((await aiohttp_server(fake.app())).make_url(""))
    async with client_session() as session:
        yield MercadoPagoGateway(
            session=session,
            base_url=base_url,
            access_token=Secret(OURS),
            client_id=CLIENT_ID,
            client_secret=Secret(CLIENT_SECRET),
            retry=attrs.evolve(DEFAULT_RETRIES, initial_backoff=0.001),
        )


async def test_validation_names_the_sellers_user_id(
    fake: FakeMercadoPago, gateway: MercadoPagoGateway
) -> None:
    access, _ = fake.connect_seller(3003)
    account = await MercadoPagoSetup(gateway=gateway).validate(
        credentials={"access_token": Secret(access)}, config={}
    )
    assert (account.external_id, account.display_name) == ("3003", "SELLER3003")
    assert account.token_expires_at is None  # no refresh token: nothing could renew it
    (call,) = fake.requests_to("GET", "/users/me")
    assert call.headers["authorization"] == f"Bearer {access}"  # the seller's, not ours


async def test_a_refused_token_is_invalid_credentials_without_the_token(
    gateway: MercadoPagoGateway,
) -> None:
    setup = MercadoPagoSetup(gateway=gateway)
    with pytest.raises(InvalidCredentials) as caught:
        await setup.validate(credentials={"access_token": Secret("APP_USR-stolen")}, config={})
    assert_secret_free(["APP_USR-stolen"], str(caught.value), repr(caught.value))
    with pytest.raises(InvalidInput):
        await setup.validate(credentials={}, config={})


async def test_refresh_returns_new_tokens_and_spends_the_old_refresh_token(
    fake: FakeMercadoPago, gateway: MercadoPagoGateway
) -> None:
    access, refresh = fake.connect_seller(3003)
    setup = MercadoPagoSetup(gateway=gateway)
    seller = integration(Channel.MERCADOPAGO, "3003")
    stored = {"access_token": Secret(access), "refresh_token": Secret(refresh)}
    fresh = await setup.refresh_token(integration=seller, credentials=stored)
    assert fresh is not None
    assert fresh.refresh_token is not None
    assert fresh.access_token.reveal() != access
    assert fresh.refresh_token.reveal() != refresh
    assert fresh.expires_at is not None
    with pytest.raises(InvalidCredentials, match="authorize again"):
        await setup.refresh_token(integration=seller, credentials=stored)
    without = {"access_token": Secret(access)}
    assert await setup.refresh_token(integration=seller, credentials=without) is None


async def test_no_test_message_and_nothing_to_register(gateway: MercadoPagoGateway) -> None:
    setup = MercadoPagoSetup(gateway=gateway)
    seller = integration(Channel.MERCADOPAGO, "3003")
    await setup.register_webhook(integration=seller, credentials={})
    await setup.unregister_webhook(integration=seller, credentials={})
    with pytest.raises(Conflict):  # a channel that cannot send, as webchat: 409
        await setup.send_test_message(integration=seller, credentials={}, to="x", text="hi")


async def test_merchant_order_payment_ids(
    fake: FakeMercadoPago, gateway: MercadoPagoGateway
) -> None:
    checkout = await gateway.create_checkout(
        CheckoutRequest(
            payment_id="pay_1", amount=Decimal("10.00"), currency="ARS", description="x"
        ),
        idempotency_key="k1",
    )
    paid = fake.pay_checkout(checkout.preference_id)
    (order_id,) = fake.merchant_orders
    assert await gateway.merchant_order_payment_ids(order_id) == [paid]
    with pytest.raises(NotFound):
        await gateway.merchant_order_payment_ids("404")


async def test_with_a_refresh_token_the_expiry_is_estimated_for_the_rotation(
    fake: FakeMercadoPago, gateway: MercadoPagoGateway
) -> None:
    access, refresh = fake.connect_seller(3003)
    clock = FrozenClock()
    account = await MercadoPagoSetup(gateway=gateway, clock=clock).validate(
        credentials={"access_token": Secret(access), "refresh_token": Secret(refresh)}, config={}
    )
    assert account.token_expires_at == clock.now() + timedelta(days=90)
    assert account.config["token_expiry_estimated"] == "true"
