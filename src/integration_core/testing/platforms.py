"""Fakes of the platform ports: channel setup, webhook verification, payment gateway, probes."""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidSignature,
    NotFound,
)
from integration_core.payments import (
    CardPaymentRequest,
    Checkout,
    CheckoutRequest,
    ProviderPayment,
    ProviderRefund,
)
from integration_core.webhooks import WebhookRequest


class FakeChannelSetup:
    """Accept the credentials in *valid_tokens*; record registrations and sent messages.

    The token is read from the credential named *token_field*; the external id from the config key
    *external_id_field*. Set :attr:`failure` to make validation and refresh raise it (a platform
    that is down, say), and :attr:`refreshed` to change what a refresh returns; :attr:`refreshes`
    and :attr:`validations` count the calls.
    """

    def __init__(
        self,
        *,
        channel: Channel,
        valid_tokens: Sequence[str] = ("valid-token",),
        token_field: str = "access_token",  # noqa: S107 - a field name, not a secret
        external_id_field: str = "external_id",
        refreshed: RefreshedToken | None = None,
    ) -> None:
        self.channel = channel
        self._valid = set(valid_tokens)
        self._token_field = token_field
        self._external_id_field = external_id_field
        self.refreshed = refreshed
        self.failure: IntegrationServiceError | None = None
        self.refreshes = 0
        self.validations = 0
        self.registered: dict[str, str | None] = {}
        self.sent: list[tuple[str, str, str]] = []

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Accept a known token; the external id comes from the config."""
        self.validations += 1
        if self.failure is not None:
            raise self.failure
        self._require_valid(credentials)
        return ValidatedAccount(external_id=config[self._external_id_field])

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Record the webhook URL."""
        self._require_valid(credentials)
        self.registered[integration.id] = integration.webhook_url

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Forget the webhook URL."""
        self.registered.pop(integration.id, None)

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Record the message and return a made-up id."""
        self._require_valid(credentials)
        self.sent.append((integration.id, to, text))
        return f"fake-msg-{len(self.sent)}"

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Return the configured refreshed token (``None``: no refresh)."""
        self.refreshes += 1
        if self.failure is not None:
            raise self.failure
        self._require_valid(credentials)
        return self.refreshed

    def _require_valid(self, credentials: Mapping[str, Secret]) -> None:
        token = credentials.get(self._token_field)
        if token is None or token.reveal() not in self._valid:
            raise InvalidCredentials()


class SharedSecretVerifier:
    """Accept a request whose *header* equals one of the secrets (a plain shared-token scheme)."""

    def __init__(self, *, header: str = "x-fake-signature") -> None:
        self._header = header

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Compare the header with every secret in constant time."""
        given = request.header(self._header)
        if given is None:
            raise InvalidSignature()
        if not any(hmac.compare_digest(given.encode(), s.reveal().encode()) for s in secrets):
            raise InvalidSignature()


@attrs.define
class _FakePayment:
    payment: ProviderPayment
    refunds: list[ProviderRefund] = attrs.field(factory=list)


class FakePaymentGateway:
    """Keep payments in memory; the same idempotency key returns the first result.

    :meth:`set_status` plays the buyer paying (or the provider rejecting). Every change is
    dated (``last_updated_at``) one second after the one before, as the provider dates them.
    """

    def __init__(self) -> None:
        self._payments: dict[str, _FakePayment] = {}
        self._by_key: dict[str, object] = {}
        self._changes = itertools.count(1)
        self.checkouts: list[CheckoutRequest] = []

    def _changed(
        self, payment: ProviderPayment, status: str | None = None, detail: str | None = None
    ) -> ProviderPayment:
        """Return *payment* dated now, moved to *status* and *detail* if a status is given."""
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(self._changes))
        if status is None:
            return attrs.evolve(payment, last_updated_at=moment)
        return attrs.evolve(payment, status=status, status_detail=detail, last_updated_at=moment)

    async def create_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str, access_token: Secret | None = None
    ) -> Checkout:
        """Open a fake checkout."""
        if (known := self._by_key.get(idempotency_key)) is not None:
            assert isinstance(known, Checkout)
            return known
        self.checkouts.append(request)
        number = len(self.checkouts)
        checkout = Checkout(
            preference_id=f"pref-{number}",
            checkout_url=f"https://checkout.invalid/pref-{number}",
        )
        self._by_key[idempotency_key] = checkout
        return checkout

    async def create_payment(
        self,
        request: CardPaymentRequest,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderPayment:
        """Approve the card payment, once per idempotency key."""
        if (known := self._by_key.get(idempotency_key)) is not None:
            assert isinstance(known, ProviderPayment)
            return known
        payment = self._changed(
            ProviderPayment(
                provider_payment_id=str(1000 + len(self._payments)),
                status="approved",
                status_detail="accredited",
                amount=request.amount,
                currency=request.currency,
                external_reference=request.external_reference,
            )
        )
        self._payments[payment.provider_payment_id] = _FakePayment(payment)
        self._by_key[idempotency_key] = payment
        return payment

    def add_payment(self, payment: ProviderPayment) -> None:
        """Make a payment known, as if a buyer paid through a checkout (dated as given)."""
        self._payments[payment.provider_payment_id] = _FakePayment(payment)

    def set_status(self, provider_payment_id: str, status: str, detail: str | None = None) -> None:
        """Change a payment's status on the provider's side."""
        entry = self._payments[provider_payment_id]
        entry.payment = self._changed(entry.payment, status, detail)

    async def get_payment(
        self, provider_payment_id: str, *, access_token: Secret | None = None
    ) -> ProviderPayment:
        """Return the payment as the provider sees it, with its refunds."""
        try:
            entry = self._payments[provider_payment_id]
        except KeyError:
            raise NotFound(f"payment {provider_payment_id} was not found") from None
        return attrs.evolve(entry.payment, refunds=tuple(entry.refunds))

    async def refund(
        self,
        provider_payment_id: str,
        amount: Decimal | None,
        *,
        idempotency_key: str,
        access_token: Secret | None = None,
    ) -> ProviderRefund:
        """Refund part or all of a payment, once per idempotency key."""
        if (known := self._by_key.get(idempotency_key)) is not None:
            assert isinstance(known, ProviderRefund)
            return known
        entry = self._payments.get(provider_payment_id)
        if entry is None:
            raise NotFound(f"payment {provider_payment_id} was not found")
        left = entry.payment.amount - sum((r.amount for r in entry.refunds), Decimal("0"))
        value = left if amount is None else amount
        if value > left:
            raise IntegrationServiceError("the provider refused a refund over the balance")
        refund = ProviderRefund(
            provider_refund_id=f"ref-{provider_payment_id}-{len(entry.refunds) + 1}",
            amount=value,
            status="approved",
        )
        entry.refunds.append(refund)
        status = "refunded" if value == left else entry.payment.status
        detail = "refunded" if value == left else "partially_refunded"
        entry.payment = self._changed(entry.payment, status, detail)
        self._by_key[idempotency_key] = refund
        return refund


class FakeProbe:
    """A health probe that passes until ``failing`` is set."""

    def __init__(self, name: str, *, critical: bool = True, failing: bool = False) -> None:
        self.name = name
        self.critical = critical
        self.failing = failing

    async def check(self) -> None:
        """Pass, or raise while ``failing``."""
        if self.failing:
            raise IntegrationServiceError(f"{self.name} is failing")
