"""The Facebook Graph API calls behind WhatsApp, Messenger and Instagram (Facebook Login) setup.

Every path carries the pinned version (``/v26.0/...``): an unversioned call silently falls back
to the oldest version Meta still serves. Tokens travel in the ``Authorization`` header, not the
query string, so they stay out of URLs and access logs; only ``debug_token`` and the token
exchange need secrets in the query, because that is the only place Meta reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from adapters_platforms.calls import CallRetries, PlatformCaller, Request
from adapters_platforms.meta_graph import values
from adapters_platforms.meta_graph.errors import read_meta_failure
from integration_core.channels import RefreshedToken
from integration_core.clock import SystemClock
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_core.ports import Clock

PLATFORM = "Meta"


class Graph:
    """Send calls to one Meta graph: ``{base_url}[/{version}]/...``, the token as a bearer header.

    Both graphs (Facebook's and Instagram Login's) call through one, so how a token is sent, and
    kept out of messages and logs (it is among every call's secrets), is decided once.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        platform: str,
        base_url: str,
        version: str | None,
        retry: CallRetries | None,
    ) -> None:
        self._prefix = f"/{version.strip('/')}" if version else ""
        self._root = base_url.rstrip("/") + self._prefix
        self._caller = PlatformCaller(
            session=session, platform=platform, read_failure=read_meta_failure, retry=retry
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: Secret | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """Send *method* *path* (labelled with the version) and return the answer's JSON."""
        request = Request(
            method=method,
            url=self._root + path,
            label=f"{method} {self._prefix}{path}",
            params=params or {},
            json=json,
            headers={"Authorization": f"Bearer {token.reveal()}"} if token is not None else {},
            idempotent=idempotent,
            secrets=(*secrets, token.reveal()) if token is not None else secrets,
        )
        return (await self._caller.call(request)).data


class MetaGraphClient:
    """Call ``{base_url}/{version}/...`` on the shared *session*.

    *app_id* and *app_secret* (the Meta app's, ``META_APP_ID`` and the channel's App Secret) are
    needed only for :meth:`debug_token` and :meth:`exchange_long_lived`.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://graph.facebook.com",
        version: str = "v26.0",
        app_id: str | None = None,
        app_secret: Secret | None = None,
        retry: CallRetries | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._graph = Graph(
            session=session, platform=PLATFORM, base_url=base_url, version=version, retry=retry
        )
        self._app_id = app_id
        self._app_secret = app_secret
        self._clock = clock or SystemClock()

    @property
    def has_app_credentials(self) -> bool:
        """Tell whether an app id and secret are configured (token inspection and exchange)."""
        return bool(self._app_id) and bool(self._app_secret)

    async def debug_token(self, token: Secret) -> values.TokenInfo:
        """Inspect *token*: validity, expiry and scopes (``GET /debug_token``).

        An invalid token is an answer (``is_valid`` false), not an error; an error here means
        Meta refused our app credentials.
        """
        app_id, app_secret = self._app_credentials()
        data = await self._graph.call(
            "GET",
            "/debug_token",
            params={
                "input_token": token.reveal(),
                "access_token": f"{app_id}|{app_secret.reveal()}",
            },
            secrets=(token.reveal(), app_secret.reveal()),
        )
        return values.token_info(data)

    async def exchange_long_lived(self, token: Secret) -> RefreshedToken:
        """Exchange a user token for a long-lived one (~60 days); expired ones cannot be."""
        app_id, app_secret = self._app_credentials()
        data = await self._graph.call(
            "GET",
            "/oauth/access_token",
            params={
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": app_secret.reveal(),
                "fb_exchange_token": token.reveal(),
            },
            secrets=(token.reveal(), app_secret.reveal()),
        )
        return values.refreshed_token(data, now=self._clock.now(), platform=PLATFORM)

    async def phone_number(self, phone_number_id: str, token: Secret) -> values.PhoneNumber:
        """Read a WhatsApp phone number: display number, verified name, quality rating."""
        data = await self._graph.call(
            "GET",
            f"/{phone_number_id}",
            token=token,
            params={"fields": "display_phone_number,verified_name,quality_rating"},
        )
        return values.phone_number(data, phone_number_id)

    async def page(
        self, page_id: str, token: Secret, *, fields: Sequence[str] = ("id", "name")
    ) -> values.FacebookPage:
        """Read a Facebook Page (ask for ``instagram_business_account{id,username}`` to link)."""
        data = await self._graph.call(
            "GET", f"/{page_id}", token=token, params={"fields": ",".join(fields)}
        )
        return values.page(data, page_id)

    async def subscribe_app(
        self, object_id: str, token: Secret, fields: Sequence[str] | None = None
    ) -> None:
        """Subscribe our app to a WABA's or a page's webhooks (``POST /{id}/subscribed_apps``).

        Subscribing twice is harmless, so the call is retried like a read.
        """
        params = {"subscribed_fields": ",".join(fields)} if fields else {}
        data = await self._graph.call(
            "POST", f"/{object_id}/subscribed_apps", token=token, params=params, idempotent=True
        )
        values.require_success(data, PLATFORM, f"the webhook subscription of {object_id}")

    async def unsubscribe_app(self, object_id: str, token: Secret) -> None:
        """Remove our app's webhook subscription (``DELETE /{id}/subscribed_apps``)."""
        data = await self._graph.call("DELETE", f"/{object_id}/subscribed_apps", token=token)
        values.require_success(data, PLATFORM, f"the webhook removal of {object_id}")

    async def send_whatsapp_text(
        self, phone_number_id: str, token: Secret, to: str, text: str
    ) -> str:
        """Send a free-form text (only inside the 24 h service window); return its ``wamid``."""
        data = await self._graph.call(
            "POST",
            f"/{phone_number_id}/messages",
            token=token,
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"body": text},
            },
        )
        return values.message_id(data, PLATFORM)

    async def send_messenger_text(
        self, page_id: str, token: Secret, recipient_id: str, text: str
    ) -> str:
        """Send a text from a page to a PSID (or an IGSID for Instagram); return its ``mid``."""
        data = await self._graph.call(
            "POST",
            f"/{page_id}/messages",
            token=token,
            json={
                "recipient": {"id": recipient_id},
                "messaging_type": "RESPONSE",
                "message": {"text": text},
            },
        )
        return values.message_id(data, PLATFORM)

    def _app_credentials(self) -> tuple[str, Secret]:
        if not self._app_id or self._app_secret is None or not self._app_secret:
            raise ConfigurationError(
                "inspecting or exchanging Meta tokens needs META_APP_ID and the app secret"
            )
        return self._app_id, self._app_secret
