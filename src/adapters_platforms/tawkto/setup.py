"""Tawk.to setup: a property, its dashboard-made webhook secret, optionally a REST API key.

Config ``property_id`` (the routing key: webhooks carry ``property.id``); credentials
``webhook_secret`` (checked by the webhook verifier, not here) and ``api_key`` (optional).

- Validation: with an ``api_key`` the property must be visible to it; without one the
  property cannot be checked, so it is accepted and marked ``property_verified: "false"``.
- Webhooks are configured in the Tawk.to dashboard (URL, events, secret), so registering and
  unregistering do nothing here: the tenant pastes :attr:`Integration.webhook_url` there.
- Tawk.to documents no API to send a chat message, so a test message is refused.
- API keys do not expire: nothing to refresh.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from adapters_platforms import inputs
from adapters_platforms.calls import CallRetries
from adapters_platforms.tawkto.client import TawkToClient
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret
from integration_core.errors import Conflict, InvalidCredentials
from integration_core.tawkto_claims import PROPERTY_VERIFIED

API_KEY = "api_key"
PROPERTY_ID = "property_id"


class TawkToSetup:
    """Validate Tawk.to properties with the tenant's own API key, through *session*."""

    channel = Channel.TAWKTO

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://api.tawk.to/v1",
        retry: CallRetries | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._retry = retry

    def client(self, api_key: Secret) -> TawkToClient:
        """Return a client for one tenant's *api_key* (clients are cheap: the session is shared)."""
        return TawkToClient(
            session=self._session, base_url=self._base_url, api_key=api_key, retry=self._retry
        )

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Check the key can see the property; without a key, accept it unverified."""
        property_id = inputs.setting(config, PROPERTY_ID, channel=self.channel)
        api_key = credentials.get(API_KEY)
        if api_key is None or not api_key:
            return ValidatedAccount(external_id=property_id, config={PROPERTY_VERIFIED: "false"})
        with inputs.checking_credentials():
            found = await self.client(api_key).find_property(property_id)
        if found is None:
            raise InvalidCredentials(f"the Tawk.to API key cannot see property {property_id}")
        return ValidatedAccount(
            external_id=property_id, display_name=found.name, config={PROPERTY_VERIFIED: "true"}
        )

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Do nothing: Tawk.to webhooks are created in its dashboard, not through the API."""

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Do nothing: the tenant removes the webhook in the Tawk.to dashboard."""

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Refuse (409, as webchat): Tawk.to documents no API that sends a chat message."""
        raise Conflict(
            "Tawk.to has no documented API to send a chat message, so no test message can be sent"
        )

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Return ``None``: Tawk.to API keys do not expire."""
        return None
