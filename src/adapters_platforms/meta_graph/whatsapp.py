"""WhatsApp Cloud API setup: a phone number of a WhatsApp Business Account (WABA).

Credentials ``access_token`` (a system-user token, ideally); config ``phone_number_id`` (the
routing key: webhooks name it in ``metadata.phone_number_id``) and ``business_account_id``
(the WABA, which is what webhooks are subscribed on).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters_platforms import inputs
from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from adapters_platforms.meta_graph.tokens import exchanged, token_expiry
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret

TOKEN = "access_token"  # noqa: S105 - a credential's name, not a secret
PHONE_NUMBER_ID = "phone_number_id"
BUSINESS_ACCOUNT_ID = "business_account_id"
REQUIRED_SCOPE = "whatsapp_business_messaging"


class WhatsAppSetup:
    """Validate, subscribe, test and refresh a WhatsApp Cloud API number through *graph*."""

    channel = Channel.WHATSAPP

    def __init__(self, *, graph: MetaGraphClient) -> None:
        self._graph = graph

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Read the phone number with the token, then inspect the token when we can."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        number_id = inputs.setting(config, PHONE_NUMBER_ID, channel=self.channel)
        inputs.setting(config, BUSINESS_ACCOUNT_ID, channel=self.channel)
        with inputs.checking_credentials():
            number = await self._graph.phone_number(number_id, token)
            expires_at = await token_expiry(self._graph, token, required_scope=REQUIRED_SCOPE)
        details = {
            "display_phone_number": number.display_phone_number,
            "verified_name": number.verified_name,
            "quality_rating": number.quality_rating,
        }
        return ValidatedAccount(
            external_id=number_id,
            display_name=number.verified_name or number.display_phone_number,
            token_expires_at=expires_at,
            config={key: value for key, value in details.items() if value},
        )

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Subscribe our app to the WABA's webhooks; the callback URL is the app's own.

        Without this per-WABA call the app-level webhook configuration delivers nothing for a
        client's WABA (PLATFORMS.md 1.6, gotcha 7).
        """
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        waba = inputs.setting(integration.config, BUSINESS_ACCOUNT_ID, channel=self.channel)
        await self._graph.subscribe_app(waba, token)

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Unsubscribe our app from the WABA.

        The subscription is per WABA, not per number: the caller must not unregister while
        another integration still uses a number of the same WABA.
        """
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        waba = inputs.setting(integration.config, BUSINESS_ACCOUNT_ID, channel=self.channel)
        await self._graph.unsubscribe_app(waba, token)

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Send a text to *to* (E.164 digits); it only arrives inside the 24 h window."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        return await self._graph.send_whatsapp_text(integration.external_id, token, to, text)

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Exchange the token for a long-lived one (``fb_exchange_token``).

        ``None`` without Meta app credentials; system-user tokens that never expire are not
        due for refresh in the first place.
        """
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        return await exchanged(self._graph, token)
