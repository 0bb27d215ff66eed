"""Messenger setup: a Facebook Page and its Page access token.

Credentials ``page_access_token``; config ``page_id`` (the routing key: webhook entries name
the page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from adapters_platforms import inputs
from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from adapters_platforms.meta_graph.tokens import exchanged, token_expiry
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret
from integration_core.errors import InvalidCredentials

TOKEN = "page_access_token"  # noqa: S105 - a credential's name, not a secret
PAGE_ID = "page_id"
REQUIRED_SCOPE = "pages_messaging"
# What a messaging page subscribes to (PLATFORMS.md 1.4).
PAGE_FIELDS: Final = (
    "messages",
    "messaging_postbacks",
    "message_deliveries",
    "message_reads",
    "message_echoes",
)


class MessengerSetup:
    """Validate, subscribe, test and refresh a Messenger page through *graph*."""

    channel = Channel.MESSENGER

    def __init__(
        self, *, graph: MetaGraphClient, subscribed_fields: Sequence[str] = PAGE_FIELDS
    ) -> None:
        self._graph = graph
        self._fields = tuple(subscribed_fields)

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Read the page with its token, then inspect the token when we can."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        page_id = inputs.setting(config, PAGE_ID, channel=self.channel)
        with inputs.checking_credentials():
            page = await self._graph.page(page_id, token)
            if page.id != page_id:
                # An alias (a vanity name, "me") resolves to a numeric id, and webhooks name the
                # page by that id only: routing on the alias would drop every event.
                raise InvalidCredentials(f"Meta knows page {page_id} as {page.id}: use that id")
            expires_at = await token_expiry(self._graph, token, required_scope=REQUIRED_SCOPE)
        return ValidatedAccount(
            external_id=page_id, display_name=page.name, token_expires_at=expires_at
        )

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Subscribe our app to the page's messaging webhooks; the callback URL is the app's."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        await self._graph.subscribe_app(integration.external_id, token, self._fields)

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Unsubscribe our app from the page."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        await self._graph.unsubscribe_app(integration.external_id, token)

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Send a text to the PSID *to* (``messaging_type: RESPONSE``, inside 24 h)."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        return await self._graph.send_messenger_text(integration.external_id, token, to, text)

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Exchange the token (``fb_exchange_token``); ``None`` without Meta app credentials.

        Page tokens got through a long-lived user token never expire, so they are rarely due.
        """
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        return await exchanged(self._graph, token)
