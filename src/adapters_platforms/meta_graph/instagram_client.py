"""The Instagram graph (``graph.instagram.com``): accounts that connected with Instagram Login.

These tokens (``IGAA...``) belong to an Instagram professional account, not to a Facebook Page,
and the Facebook graph does not accept them. It speaks Meta's error format. Calls are
unversioned unless *version* is given; the refresh endpoint is unversioned in Meta's docs.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from adapters_platforms.calls import CallRetries
from adapters_platforms.meta_graph import values
from adapters_platforms.meta_graph.graph_client import Graph
from integration_core.channels import RefreshedToken
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.ports import Clock

PLATFORM = "Instagram"


class InstagramGraphClient:
    """Call ``{base_url}[/{version}]/...`` with an Instagram user token."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://graph.instagram.com",
        version: str | None = None,
        retry: CallRetries | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._graph = Graph(
            session=session, platform=PLATFORM, base_url=base_url, version=version, retry=retry
        )
        self._clock = clock or SystemClock()

    async def me(self, token: Secret) -> values.InstagramUser:
        """Return the account behind *token* (``GET /me?fields=user_id,username``)."""
        data = await self._graph.call(
            "GET", "/me", token=token, params={"fields": "id,user_id,username"}
        )
        return values.instagram_user(data)

    async def refresh_access_token(self, token: Secret) -> RefreshedToken:
        """Refresh a long-lived token (at least 24 h old, unexpired) for another 60 days."""
        data = await self._graph.call(
            "GET",
            "/refresh_access_token",
            params={"grant_type": "ig_refresh_token", "access_token": token.reveal()},
            secrets=(token.reveal(),),
        )
        return values.refreshed_token(data, now=self._clock.now(), platform=PLATFORM)

    async def subscribe_app(self, token: Secret, fields: Sequence[str]) -> None:
        """Subscribe our app to the account's webhooks (``POST /me/subscribed_apps``)."""
        data = await self._graph.call(
            "POST",
            "/me/subscribed_apps",
            token=token,
            params={"subscribed_fields": ",".join(fields)},
            idempotent=True,
        )
        values.require_success(data, PLATFORM, "the webhook subscription")

    async def unsubscribe_app(self, token: Secret) -> None:
        """Remove our app's webhook subscription (``DELETE /me/subscribed_apps``)."""
        data = await self._graph.call("DELETE", "/me/subscribed_apps", token=token)
        values.require_success(data, PLATFORM, "the webhook removal")

    async def send_text(self, account_id: str, token: Secret, recipient_id: str, text: str) -> str:
        """Send a text to an IGSID (``POST /{account_id}/messages``); return its ``mid``."""
        data = await self._graph.call(
            "POST",
            f"/{account_id}/messages",
            token=token,
            json={"recipient": {"id": recipient_id}, "message": {"text": text}},
        )
        return values.message_id(data, PLATFORM)
