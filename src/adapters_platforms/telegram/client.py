"""The Telegram Bot API: ``{base_url}/bot<token>/<method>``, JSON in, ``{"ok", "result"}`` out.

The bot token is part of the URL path, so this module never lets a URL reach a message or a
log line: calls are labelled ``telegram <method>`` and every message is scrubbed of the token.
Errors come as ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp
import attrs

from adapters_platforms.answers import Answer, Failure, int_field, status_failure, text_field
from adapters_platforms.calls import CallRetries, PlatformCaller, Request
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PlatformError,
    PlatformRateLimited,
    PlatformUnavailable,
)

PLATFORM = "Telegram"
# Updates we normalize. Passed explicitly on every setWebhook: omitting the list keeps whatever
# filter was set before, and message_reaction is only delivered when asked for.
ALLOWED_UPDATES: Final = (
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "message_reaction",
)


@attrs.frozen(kw_only=True)
class BotUser:
    """The bot behind a token (``getMe``)."""

    id: int
    username: str | None = None
    first_name: str | None = None


@attrs.frozen(kw_only=True)
class WebhookInfo:
    """Where Telegram delivers the bot's updates, and how that is going."""

    url: str = attrs.field(repr=False)
    pending_update_count: int = 0
    last_error_date: int | None = None
    last_error_message: str | None = None
    allowed_updates: tuple[str, ...] = ()


def read_telegram_failure(answer: Answer) -> Failure | None:
    """Return ``None`` for ``ok: true``, else the failure Telegram's answer means."""
    data = answer.data if isinstance(answer.data, Mapping) else None
    if data is None or "ok" not in data:
        # Not the Bot API talking (a proxy's page, an empty body): judge by status.
        if answer.ok:
            return Failure(kind=PlatformUnavailable, message=answer.describe())
        return status_failure(answer, answer.describe())
    if answer.ok and data.get("ok") is True:
        return None
    code = int_field(data, "error_code") or answer.status
    description = text_field(data, "description") or f"error {code}"
    retry_after = int_field(data, "parameters", "retry_after")
    return Failure(
        kind=_kind(code, answer.status),
        message=description,
        retry_after=float(retry_after) if retry_after is not None and code == 429 else None,
    )


def _kind(code: int, status: int) -> type[IntegrationServiceError]:
    """Return the error class of a Bot API ``error_code``.

    401 is a revoked or wrong token; 404 is what Telegram answers for a token that is not even
    shaped like one. 403 is *not* a credential problem here: it is "bot was blocked by the
    user", a refused request like 400 "chat not found" or 409 "conflict".
    """
    if code in (401, 404):
        return InvalidCredentials
    if code == 429:
        return PlatformRateLimited
    if code >= 500 or status >= 500:
        return PlatformUnavailable
    return InvalidInput


class TelegramClient:
    """Call Bot API methods for any bot: each method takes the bot's *token*."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://api.telegram.org",
        retry: CallRetries | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._caller = PlatformCaller(
            session=session, platform=PLATFORM, read_failure=read_telegram_failure, retry=retry
        )

    async def get_me(self, token: Secret) -> BotUser:
        """Return the bot *token* belongs to: the credential check."""
        result = await self._call(token, "getMe")
        bot_id = int_field(result, "id")
        if bot_id is None:
            raise PlatformError("Telegram getMe answered without a bot id")
        return BotUser(
            id=bot_id,
            username=text_field(result, "username"),
            first_name=text_field(result, "first_name"),
        )

    async def set_webhook(
        self,
        token: Secret,
        *,
        url: str,
        secret_token: Secret,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    ) -> None:
        """Point the bot's webhook at *url*; deliveries carry *secret_token* in a header.

        Pending updates are kept (``drop_pending_updates: false``): dropping them on a
        redeploy would lose customers' messages.
        """
        await self._call(
            token,
            "setWebhook",
            {
                "url": url,
                "secret_token": secret_token.reveal(),
                "allowed_updates": list(allowed_updates),
                "drop_pending_updates": False,
            },
            secrets=(secret_token.reveal(),),
        )

    async def get_webhook_info(self, token: Secret) -> WebhookInfo:
        """Return the bot's current webhook and its delivery state."""
        result = await self._call(token, "getWebhookInfo")
        allowed = result.get("allowed_updates") if isinstance(result, Mapping) else None
        return WebhookInfo(
            url=text_field(result, "url") or "",
            pending_update_count=int_field(result, "pending_update_count") or 0,
            last_error_date=int_field(result, "last_error_date"),
            last_error_message=text_field(result, "last_error_message"),
            allowed_updates=tuple(str(u) for u in allowed) if isinstance(allowed, list) else (),
        )

    async def delete_webhook(self, token: Secret) -> None:
        """Remove the bot's webhook, keeping pending updates."""
        await self._call(token, "deleteWebhook", {"drop_pending_updates": False})

    async def send_message(self, token: Secret, *, chat_id: str, text: str) -> str:
        """Send *text* to *chat_id*; return the new message's id (unique within the chat)."""
        result = await self._call(
            token, "sendMessage", {"chat_id": chat_id, "text": text}, idempotent=False
        )
        message_id = int_field(result, "message_id")
        if message_id is None:
            raise PlatformError("Telegram sendMessage answered without a message_id")
        return str(message_id)

    async def _call(
        self,
        token: Secret,
        method: str,
        payload: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = True,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        # Every method but sendMessage is safe to repeat (getters, set/delete to one state).
        request = Request(
            method="POST",
            url=f"{self._base_url}/bot{token.reveal()}/{method}",
            label=method,
            json=dict(payload or {}),
            idempotent=idempotent,
            secrets=(token.reveal(), *secrets),
        )
        answer = await self._caller.call(request)
        return answer.data.get("result") if isinstance(answer.data, Mapping) else None
