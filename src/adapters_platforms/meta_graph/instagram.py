"""Instagram messaging setup, in both of Meta's flavours.

Credentials ``access_token``; config ``instagram_account_id`` (the routing key: webhook entries
name the professional account) and, optionally, ``page_id``:

- with ``page_id``: Facebook Login. The token is the linked Page's token on the Facebook graph;
  webhooks are subscribed on the page and messages are sent from it.
- without: Instagram Login. The token is an Instagram user token (``graph.instagram.com``);
  webhooks are subscribed on the account itself. Its expiry is estimated (see
  :data:`ASSUMED_REMAINING_LIFETIME`) and flagged ``token_expiry_estimated`` in the config, so
  the token rotation refreshes it in time; every refresh then dates the new token exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final

from adapters_platforms import inputs
from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from adapters_platforms.meta_graph.instagram_client import InstagramGraphClient
from adapters_platforms.meta_graph.messenger import PAGE_FIELDS
from adapters_platforms.meta_graph.tokens import exchanged, token_expiry
from integration_core.channels import Channel, Integration, RefreshedToken, ValidatedAccount
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.errors import InvalidCredentials
from integration_core.ports import Clock

TOKEN = "access_token"  # noqa: S105 - a credential's name, not a secret
ACCOUNT_ID = "instagram_account_id"
PAGE_ID = "page_id"
REQUIRED_SCOPE = "instagram_manage_messages"
# Instagram Login webhook fields [unverified list, from the Instagram platform docs].
ACCOUNT_FIELDS: Final = ("messages", "messaging_postbacks", "messaging_seen", "messaging_reactions")
ASSUMED_REMAINING_LIFETIME: Final = timedelta(days=30)
"""How long an Instagram Login token given at setup is assumed to live (they last 60 days).

Nothing tells a long-lived token's expiry but the answer that issued it: ``debug_token`` does
not read ``IGAA...`` tokens and ``/me`` has no expiry field. Refreshing at setup to learn it
fails in the common case, since a token must be at least 24 hours old to be refreshed and a
tenant usually connects one just issued. Half the lifetime is assumed instead (as for Mercado
Pago): with the default 10-day margin the first refresh comes 20 days after setup, when the
token is old enough, and covers any token up to 40 days old when connected.
"""


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
        clock: Clock | None = None,
    ) -> None:
        self._graph = graph
        self._instagram = instagram
        self._clock = clock or SystemClock()
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
            token_expires_at=self._clock.now() + ASSUMED_REMAINING_LIFETIME,
            # A flag, not a secret.
            config={"login": "instagram", "token_expiry_estimated": "true"},
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
