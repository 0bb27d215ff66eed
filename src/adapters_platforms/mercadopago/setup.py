"""A tenant's own Mercado Pago seller account as a channel (``.../mercadopago/setup``).

Credentials ``access_token`` (required) and ``refresh_token`` (optional, from the OAuth grant);
config ``public_key`` (optional, for the tenant's browser checkout).

- Validation: ``GET /users/me`` with the token; the account's user id (the *collector* id that
  notifications carry as ``user_id``) becomes the integration's ``external_id``. With a refresh
  token the token's expiry is estimated (:data:`ASSUMED_REMAINING_LIFETIME`), so the token
  rotation scheduler picks it up; without one it is left unknown (nothing could renew it).
- Notifications go to the ``notification_url`` of each payment (``MP_WEBHOOK_URL``), so nothing
  is registered; there is no message to send.
- Refresh: the OAuth ``refresh_token`` grant with our ``MP_CLIENT_ID``/``MP_CLIENT_SECRET``;
  Mercado Pago issues a new refresh token each time and the old one stops working, so the
  :class:`RefreshedToken` carries it for the caller to store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from adapters_platforms import inputs
from adapters_platforms.mercadopago.gateway import MercadoPagoGateway
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.errors import Conflict, InvalidCredentials
from integration_core.ports import Clock

ACCESS_TOKEN = "access_token"  # noqa: S105 - credential names, not secrets
REFRESH_TOKEN = "refresh_token"  # noqa: S105
ASSUMED_REMAINING_LIFETIME = timedelta(days=90)
"""How long a seller token given at setup is assumed to live (OAuth tokens last 180 days)."""


class MercadoPagoSetup:
    """Connect sellers through *gateway* (whose own token is never used here)."""

    channel = Channel.MERCADOPAGO

    def __init__(self, *, gateway: MercadoPagoGateway, clock: Clock | None = None) -> None:
        self._gateway = gateway
        self._clock = clock or SystemClock()

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Ask Mercado Pago whose token this is; its user id routes notifications."""
        token = inputs.secret(credentials, ACCESS_TOKEN, channel=self.channel)
        with inputs.checking_credentials():
            profile = await self._gateway.get_account(token)
        extra = {"user_id": profile.user_id}
        if profile.site_id:
            extra["site_id"] = profile.site_id
        expires_at = None
        if credentials.get(REFRESH_TOKEN):
            # Mercado Pago tells a token's lifetime only when it issues one (180 days); a token
            # handed to us may be months old, so assume half of that is left: the rotation
            # refreshes it well in time, and every refresh then dates the new token exactly.
            expires_at = self._clock.now() + ASSUMED_REMAINING_LIFETIME
            extra["token_expiry_estimated"] = "true"  # noqa: S105 - a flag, not a secret
        return ValidatedAccount(
            external_id=profile.user_id,
            display_name=profile.nickname,
            token_expires_at=expires_at,
            config=extra,
        )

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Do nothing: each payment names its ``notification_url``."""

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Do nothing: there is no subscription to undo."""

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Refuse: a payment account sends no messages."""
        raise Conflict("Mercado Pago is a payment account: it cannot send a test message")

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Trade the stored refresh token for new tokens; ``None`` without a refresh token."""
        refresh = credentials.get(REFRESH_TOKEN)
        if refresh is None or not refresh:
            return None
        try:
            return await self._gateway.refresh_oauth_token(refresh)
        except InvalidCredentials:
            raise InvalidCredentials(
                "Mercado Pago refused the refresh token: the seller must authorize again"
            ) from None
