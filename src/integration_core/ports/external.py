"""The ports to what lies outside our storage: time, platforms, the messaging service, probes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from integration_core.channels import (
    Channel,
    Integration,
    RefreshedToken,
    ValidatedAccount,
)
from integration_core.credentials import Secret
from integration_core.events import NormalizedEvent
from integration_core.payments import (
    CardPaymentRequest,
    Checkout,
    CheckoutRequest,
    ProviderPayment,
    ProviderRefund,
)
from integration_core.webhooks import WebhookRequest

# --------------------------------------------------------------------------- time


@runtime_checkable
class Clock(Protocol):
    """Tell the time; inject it so tests can freeze it."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


# --------------------------------------------------------------------------- platforms


class WebhookVerifier(Protocol):
    """Check that a webhook delivery really comes from its platform."""

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if any of *secrets* verifies *request*; else raise :class:`InvalidSignature`.

        Several secrets let an operator rotate one with a grace window. An empty *secrets*
        rejects everything (fail closed).
        """
        ...


class ChannelSetup(Protocol):
    """Talk to one messaging platform on a tenant's behalf: validate, register, test, refresh."""

    channel: Channel

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Prove the credentials work; :class:`InvalidCredentials` or :class:`PlatformError`."""
        ...

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Point the platform's webhook at *integration.webhook_url* where the platform allows."""
        ...

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Undo :meth:`register_webhook` where possible."""
        ...

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Send *text* to *to* through the platform; return the platform's message id."""
        ...

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Exchange the token for a fresh one, or ``None`` where the platform has no refresh."""
        ...


class PaymentGateway(Protocol):
    """A payment provider (Mercado Pago). *access_token* is a seller's own; ``None``: ours."""

    async def create_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str, access_token: Secret | None = None
    ) -> Checkout:
        """Open a hosted checkout (Checkout Pro preference)."""
        ...

    async def create_payment(
        self,
        request: CardPaymentRequest,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderPayment:
        """Charge a tokenized card; the same *idempotency_key* never charges twice."""
        ...

    async def get_payment(
        self, provider_payment_id: str, *, access_token: Secret | None = None
    ) -> ProviderPayment:
        """Fetch a payment's current state from the provider."""
        ...

    async def refund(
        self,
        provider_payment_id: str,
        amount: Decimal | None,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderRefund:
        """Refund *amount* of a payment (``None``: all of it)."""
        ...


class MerchantOrderLookup(Protocol):
    """Read which payments a provider's order (Mercado Pago merchant order) holds."""

    async def merchant_order_payment_ids(
        self, merchant_order_id: str, *, access_token: Secret | None = None
    ) -> Sequence[str]:
        """Return the provider ids of the order's payments; :class:`NotFound` if unknown."""
        ...


# --------------------------------------------------------------------------- downstream


class MessageForwarder(Protocol):
    """Deliver normalized events to the downstream messaging service."""

    async def forward(self, event: NormalizedEvent) -> None:
        """Deliver *event*; raise :class:`DeliveryFailed` for anything but a 2xx answer."""
        ...


# --------------------------------------------------------------------------- operations


class HealthProbe(Protocol):
    """One dependency the health endpoint checks (database, messaging service, Vault)."""

    name: str
    critical: bool
    """A failing critical probe makes the service unhealthy (503), not just degraded."""

    async def check(self) -> None:
        """Return if the dependency answers; raise any :class:`IntegrationServiceError` if not."""
        ...
