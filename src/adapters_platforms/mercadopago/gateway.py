"""Mercado Pago as the service's :class:`~integration_core.ports.PaymentGateway`.

Checkout Pro preferences, card payments, refunds and payment look-ups, plus what a marketplace
needs around them: merchant orders (what a buyer paid against a preference) and the OAuth refresh
that keeps a seller's token alive. Each call uses the seller's own access token when one is given,
so money goes to the tenant's account, and our ``MP_ACCESS_TOKEN`` only when none is.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final
from urllib.parse import quote

import aiohttp

from adapters_platforms.calls import CallRetries, PlatformCaller, Request
from adapters_platforms.mercadopago import bodies, errors, resources, wire
from adapters_platforms.mercadopago.bodies import BackUrls
from adapters_platforms.mercadopago.resources import MerchantOrder, SellerProfile
from integration_core.channels import RefreshedToken
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidInput, PaymentsNotConfigured
from integration_core.payments import (
    CardPaymentRequest,
    Checkout,
    CheckoutRequest,
    ProviderPayment,
    ProviderRefund,
)
from integration_core.ports import Clock

DEFAULT_BASE_URL = "https://api.mercadopago.com"
PLATFORM: Final = "Mercado Pago"
DEFAULT_RETRIES: Final = CallRetries(
    attempts=4,
    timeout_seconds=30.0,
    initial_backoff=0.5,
    max_backoff=8.0,
    full_jitter=True,
    max_retry_after=30.0,
)
"""Every call may be repeated (see :meth:`MercadoPagoGateway._send`), so it is, up to four times."""


class MercadoPagoGateway:
    """Talk to Mercado Pago's REST API on behalf of us or of a tenant's seller account.

    *access_token* is ours (``MP_ACCESS_TOKEN``), used when a call brings no seller token;
    *client_id* and *client_secret* identify our application for OAuth refreshes. In *sandbox*
    mode checkouts send buyers to Mercado Pago's test checkout. *back_urls* bring the buyer back
    from Checkout Pro. *retry* says how long an attempt may take and how a transient failure is
    retried (:data:`DEFAULT_RETRIES`).
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        access_token: Secret | None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        sandbox: bool = False,
        back_urls: BackUrls | None = None,
        retry: CallRetries | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._access_token = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._sandbox = sandbox
        self._back_urls = back_urls
        self._clock = clock or SystemClock()
        self._caller = PlatformCaller(
            session=session,
            platform=PLATFORM,
            read_failure=functools.partial(errors.read_failure, clock=self._clock),
            retry=retry or DEFAULT_RETRIES,
            dumps=wire.dumps,
            loads=wire.loads,
        )

    async def create_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str, access_token: Secret | None = None
    ) -> Checkout:
        """``POST /checkout/preferences``; see :meth:`PaymentGateway.create_checkout`."""
        answer = await self._send(
            method="POST",
            path="/checkout/preferences",
            token=self._token(access_token),
            body=bodies.preference(request, back_urls=self._back_urls),
            idempotency_key=_key(idempotency_key),
        )
        return resources.checkout(answer, sandbox=self._sandbox)

    async def create_payment(
        self,
        request: CardPaymentRequest,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderPayment:
        """``POST /v1/payments``; see :meth:`PaymentGateway.create_payment`."""
        answer = await self._send(
            method="POST",
            path="/v1/payments",
            token=self._token(access_token),
            body=bodies.card_payment(request),
            idempotency_key=_key(idempotency_key),
            # The card token is single-use, but it is still not for logs.
            secrets=(Secret(request.card_token),),
        )
        return resources.provider_payment(answer, currency=request.currency)

    async def get_payment(
        self, provider_payment_id: str, *, access_token: Secret | None = None
    ) -> ProviderPayment:
        """``GET /v1/payments/{id}``; see :meth:`PaymentGateway.get_payment`."""
        answer = await self._send(
            method="GET",
            path=f"/v1/payments/{_segment(provider_payment_id)}",
            token=self._token(access_token),
            subject=f"payment {provider_payment_id}",
        )
        return resources.provider_payment(answer)

    async def refund(
        self,
        provider_payment_id: str,
        amount: Decimal | None,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderRefund:
        """``POST /v1/payments/{id}/refunds``; see :meth:`PaymentGateway.refund`."""
        answer = await self._send(
            method="POST",
            path=f"/v1/payments/{_segment(provider_payment_id)}/refunds",
            token=self._token(access_token),
            body=bodies.refund(amount),
            idempotency_key=_key(idempotency_key),
            subject=f"payment {provider_payment_id}",
        )
        return resources.provider_refund(answer)

    async def get_merchant_order(
        self, merchant_order_id: str, *, access_token: Secret | None = None
    ) -> MerchantOrder:
        """Fetch a merchant order: which payments a buyer made against a preference."""
        answer = await self._send(
            method="GET",
            path=f"/merchant_orders/{_segment(merchant_order_id)}",
            token=self._token(access_token),
            subject=f"merchant order {merchant_order_id}",
        )
        return resources.merchant_order(answer)

    async def merchant_order_payment_ids(
        self, merchant_order_id: str, *, access_token: Secret | None = None
    ) -> Sequence[str]:
        """See :meth:`MerchantOrderLookup.merchant_order_payment_ids`."""
        order = await self.get_merchant_order(merchant_order_id, access_token=access_token)
        return [payment.id for payment in order.payments]

    async def get_account(self, access_token: Secret) -> SellerProfile:
        """Return the account *access_token* belongs to (``GET /users/me``): validates a token."""
        answer = await self._send(method="GET", path="/users/me", token=self._token(access_token))
        return resources.seller_profile(answer)

    async def refresh_oauth_token(self, refresh_token: Secret) -> RefreshedToken:
        """Trade a seller's *refresh_token* for a new access token and a new refresh token.

        Mercado Pago rotates refresh tokens: the old one stops working, so the caller must store
        both new tokens before anything else. A refused grant is :class:`InvalidCredentials`
        (the seller has to authorize the application again).
        """
        if self._client_id is None or self._client_secret is None:
            raise ConfigurationError(
                "refreshing a Mercado Pago seller token needs MP_CLIENT_ID and MP_CLIENT_SECRET"
            )
        if not refresh_token:
            raise InvalidInput("the Mercado Pago refresh token is empty")
        answer = await self._send(
            method="POST",
            path="/oauth/token",
            # The client secret authenticates this call; no bearer token is involved.
            token=None,
            body=bodies.oauth_refresh(
                client_id=self._client_id,
                client_secret=self._client_secret,
                refresh_token=refresh_token,
            ),
            oauth=True,
            secrets=(self._client_secret, refresh_token),
        )
        return resources.refreshed_token(answer, now=self._clock.now())

    async def _send(
        self,
        *,
        method: str,
        path: str,
        token: Secret | None,
        body: Mapping[str, object] | None = None,
        idempotency_key: str | None = None,
        subject: str | None = None,
        oauth: bool = False,
        secrets: tuple[Secret, ...] = (),
    ) -> object:
        """Return the JSON answer (amounts as ``Decimal``) of one call, retried where it failed.

        Every call may be repeated: the ones that create payments and refunds carry the caller's
        *idempotency_key*, lookups are reads, and the token grant (*oauth*) is marked safe below.
        *subject* names the resource a 404 says is missing; *secrets* are those the body carries.
        """
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.reveal()}"
        request = Request(
            method=method,
            url=self._base_url + path,
            label=f"{method} {path}",
            json=body,
            headers=headers,
            idempotency_key=idempotency_key,
            # A refresh repeated after the first used the grant up is refused, as the rotation's
            # next try would be; one whose first try never arrived gets through at once.
            idempotent=True if oauth else None,
            # Only a lookup or the grant reads a refusal differently from the caller's reader.
            read_failure=functools.partial(
                errors.read_failure, subject=subject, oauth=oauth, clock=self._clock
            )
            if subject is not None or oauth
            else None,
            secrets=tuple(
                secret.reveal() for secret in (*secrets, *((token,) if token is not None else ()))
            ),
        )
        return (await self._caller.call(request)).data

    def _token(self, access_token: Secret | None) -> Secret:
        # A seller's token is never swapped for ours, even when empty: that would put the
        # tenant's sale on our account.
        token = self._access_token if access_token is None else access_token
        if token is None:
            raise PaymentsNotConfigured(
                "no Mercado Pago access token: the tenant has no seller account connected "
                "and MP_ACCESS_TOKEN is not set"
            )
        if not token:
            raise ConfigurationError("the Mercado Pago access token is empty")
        return token


def _key(idempotency_key: str) -> str:
    # A missing key would let a retried charge create a second payment: refuse it up front.
    if not idempotency_key.strip():
        raise InvalidInput("an idempotency key is required to create anything at Mercado Pago")
    return idempotency_key


def _segment(identifier: str) -> str:
    # Ids come from callers and notifications: quoted, one can never reach another path.
    if identifier in {"", ".", ".."}:
        raise InvalidInput(f"{identifier!r} is not a Mercado Pago id")
    return quote(identifier, safe="")
