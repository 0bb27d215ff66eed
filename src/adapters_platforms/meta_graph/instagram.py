"""Instagram messaging setup, in both of Meta's flavours.

Credentials ``access_token``; config ``instagram_account_id`` (the routing key: webhook entries
name the professional account) and, optionally, ``page_id``:

- with ``page_id``: Facebook Login. The token is the linked Page's token on the Facebook graph;
  webhooks are subscribed on the page and messages are sent from it.
- without: Instagram Login. The token is an Instagram user token (``graph.instagram.com``);
  webhooks are subscribed on the account itself. ``debug_token`` does not read these tokens,
  so their expiry stays unknown (``None``) here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from adapters_platforms import inputs
from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from adapters_platforms.meta_graph.instagram_client import InstagramGraphClient
from adapters_platforms.meta_graph.messenger import PAGE_FIELDS
from adapters_platforms.meta_graph.tokens import exchanged, token_expiry
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.credentials import Secret
from integration_core.errors import InvalidCredentials

TOKEN = "access_token"  # noqa: S105 - a credential's name, not a secret
ACCOUNT_ID = "instagram_account_id"
PAGE_ID = "page_id"
REQUIRED_SCOPE = "instagram_manage_messages"
# Instagram Login webhook fields [unverified list, from the Instagram platform docs].
ACCOUNT_FIELDS: Final = ("messages", "messaging_postbacks", "messaging_seen", "messaging_reactions")


class InstagramSetup:
    """Validate, subscribe, test and refresh an Instagram professional account."""

    channel = Channel.INSTAGRAM

    def __init__(
        self,
        *,
        graph: MetaGraphClient,
        instagram: InstagramGraphClient,
        page_fields: Sequence[str] = PAGE_FIELDS,
        account_fields: Sequence[str] = ACCOUNT_FIELDS,
    ) -> None:
        self._graph = graph
        self._instagram = instagram
        self._page_fields = tuple(page_fields)
        self._account_fields = tuple(account_fields)

    async def validate(
        self, *, credentials: Mapping[str, Secret], config: Mapping[str, str]
    ) -> ValidatedAccount:
        """Prove the token reaches the account: through its page, or as the account itself."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        account_id = inputs.setting(config, ACCOUNT_ID, channel=self.channel)
        page_id = (config.get(PAGE_ID) or "").strip()
        with inputs.checking_credentials():
            if page_id:
                return await self._validate_page(token, account_id, page_id)
            return await self._validate_account(token, account_id)

    async def _validate_page(
        self, token: Secret, account_id: str, page_id: str
    ) -> ValidatedAccount:
        page = await self._graph.page(
            page_id, token, fields=("id", "name", "instagram_business_account{id,username}")
        )
        if page.instagram_account_id != account_id:
            raise InvalidCredentials(
                f"page {page_id} is not linked to Instagram account {account_id}"
            )
        expires_at = await token_expiry(self._graph, token, required_scope=REQUIRED_SCOPE)
        return ValidatedAccount(
            external_id=account_id,
            display_name=_handle(page.instagram_username) or page.name,
            token_expires_at=expires_at,
            config={"login": "facebook"},
        )

    async def _validate_account(self, token: Secret, account_id: str) -> ValidatedAccount:
        user = await self._instagram.me(token)
        if account_id not in (user.user_id, user.id):
            raise InvalidCredentials(f"the token is not for Instagram account {account_id}")
        return ValidatedAccount(
            external_id=account_id,
            display_name=_handle(user.username),
            config={"login": "instagram"},
        )

    async def register_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Subscribe our app to the page's (Facebook Login) or the account's webhooks."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        if page_id := _page_id(integration):
            await self._graph.subscribe_app(page_id, token, self._page_fields)
        else:
            await self._instagram.subscribe_app(token, self._account_fields)

    async def unregister_webhook(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> None:
        """Unsubscribe our app from the page or the account."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        if page_id := _page_id(integration):
            await self._graph.unsubscribe_app(page_id, token)
        else:
            await self._instagram.unsubscribe_app(token)

    async def send_test_message(
        self, *, integration: Integration, credentials: Mapping[str, Secret], to: str, text: str
    ) -> str:
        """Send a text to the IGSID *to*, from the page or from the account."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        if page_id := _page_id(integration):
            return await self._graph.send_messenger_text(page_id, token, to, text)
        return await self._instagram.send_text(integration.external_id, token, to, text)

    async def refresh_token(
        self, *, integration: Integration, credentials: Mapping[str, Secret]
    ) -> RefreshedToken | None:
        """Refresh the token: ``ig_refresh_token`` (Instagram Login) or ``fb_exchange_token``."""
        token = inputs.secret(credentials, TOKEN, channel=self.channel)
        if _page_id(integration):
            return await exchanged(self._graph, token)
        return await self._instagram.refresh_access_token(token)


def _page_id(integration: Integration) -> str:
    return (integration.config.get(PAGE_ID) or "").strip()


def _handle(username: str | None) -> str | None:
    return f"@{username}" if username else None
