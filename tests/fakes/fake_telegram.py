"""A fake Telegram Bot API: ``/bot<token>/<method>`` for the bots you add.

It answers ``{"ok": true, "result": ...}`` or Telegram's error shape: ``401 Unauthorized`` for an
unknown token, ``404 Not Found`` for one not even shaped like a token, ``400 Bad Request: chat
not found``, and, on demand, ``429`` with ``parameters.retry_after``
(:meth:`FakeTelegram.rate_limit_next`) or any status (:meth:`FakeServer.fail_next`). Parameters
are read from a JSON body, a form or the query string, as the real API accepts.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import attrs
from aiohttp import web

from .server import FakeServer

_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def telegram_error(code: int, description: str, **parameters: Any) -> Any:
    """Return a Bot API error body."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


@attrs.define(kw_only=True)
class FakeBot:
    """A bot: who it is, its webhook (``None``: not set) and the chats that started it."""

    id: int
    username: str
    first_name: str = "Acme Bot"
    webhook: dict[str, Any] | None = None
    chats: set[str] = attrs.field(factory=set)


class FakeTelegram(FakeServer):
    """Bots by token; every message sent is kept in :attr:`sent`."""

    def __init__(self) -> None:
        self.bots: dict[str, FakeBot] = {}
        self.sent: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1)
        super().__init__()

    def add_bot(self, token: str, *, username: str, chats: tuple[str, ...] = ()) -> FakeBot:
        """Accept *token* (``<bot id>:<secret>``) as the bot @*username*."""
        bot = FakeBot(id=int(token.split(":", 1)[0]), username=username, chats=set(chats))
        self.bots[token] = bot
        return bot

    def rate_limit_next(self, times: int = 1, *, retry_after: int = 1) -> None:
        """Answer the next *times* calls ``429`` asking to wait *retry_after* seconds."""
        body = telegram_error(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )
        self.fail_next(times, status=429, body=body)

    def fault_body(self, status: int) -> Any:
        """Return Telegram's body for an injected *status*."""
        return telegram_error(status, _DESCRIPTIONS.get(status, f"Error {status}"))

    def routes(self, router: web.UrlDispatcher) -> None:
        """Serve every method name under any token."""
        router.add_route("*", "/bot{token}/{method}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not _TOKEN_SHAPE.fullmatch(token):
            return web.json_response(telegram_error(404, "Not Found"), status=404)
        bot = self.bots.get(token)
        if bot is None:
            return web.json_response(telegram_error(401, "Unauthorized"), status=401)
        handler = {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "deleteWebhook": self._delete_webhook,
            "sendMessage": self._send_message,
        }.get(request.match_info["method"])
        if handler is None:
            return web.json_response(telegram_error(404, "Not Found"), status=404)
        params = await _params(request)
        return handler(bot, params)

    def _get_me(self, bot: FakeBot, _params: dict[str, Any]) -> web.Response:
        return _result(
            {
                "id": bot.id,
                "is_bot": True,
                "first_name": bot.first_name,
                "username": bot.username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    def _set_webhook(self, bot: FakeBot, params: dict[str, Any]) -> web.Response:
        url = str(params.get("url", ""))
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            return _bad_request("secret token contains unallowed characters")
        bot.webhook = {**params, "url": url} if url else None
        return _result(True, description="Webhook was set" if url else "Webhook was deleted")

    def _get_webhook_info(self, bot: FakeBot, _params: dict[str, Any]) -> web.Response:
        webhook = bot.webhook or {}
        info: dict[str, Any] = {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if webhook:
            info["max_connections"] = 40
            info["allowed_updates"] = list(webhook.get("allowed_updates") or [])
        return _result(info)

    def _delete_webhook(self, bot: FakeBot, _params: dict[str, Any]) -> web.Response:
        bot.webhook = None
        return _result(True, description="Webhook was deleted")

    def _send_message(self, bot: FakeBot, params: dict[str, Any]) -> web.Response:
        chat_id = str(params.get("chat_id", ""))
        if not params.get("text"):
            return _bad_request("message text is empty")
        if chat_id not in bot.chats:
            return _bad_request("chat not found")
        message_id = next(self._message_ids)
        self.sent.append({"bot": bot.id, "chat_id": chat_id, "text": params["text"]})
        return _result(
            {
                "message_id": message_id,
                "from": {"id": bot.id, "is_bot": True, "username": bot.username},
                "chat": {"id": int(chat_id), "type": "private"},
                "date": int(time.time()),
                "text": params["text"],
            }
        )


async def _params(request: web.Request) -> dict[str, Any]:
    # Not can_read_body: the recording middleware has read (and cached) the body already.
    params: dict[str, Any] = dict(request.query)
    if not await request.read():
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    else:
        params.update(await request.post())
    return params


def _result(result: Any, **extra: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result, **extra})


def _bad_request(reason: str) -> web.Response:
    return web.json_response(telegram_error(400, f"Bad Request: {reason}"), status=400)
