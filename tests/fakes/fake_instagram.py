"""The Instagram graph (Instagram Login) part of :class:`~tests.fakes.fake_meta.FakeMeta`.

Served under ``/instagram`` (optionally ``/instagram/vNN.0``) by the same server as the Graph
API, sharing its recorded calls and injected faults.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from aiohttp import web

from .meta_wire import bearer_or_query_token, error_response, subscription, unknown_object

LONG_LIVED_SECONDS = 5183944
PREFIX = "/instagram{version:(?:/v[0-9.]+)?}"


class InstagramGraph:
    """Instagram Login accounts by token; what they subscribed to and sent."""

    def __init__(self, subscriptions: dict[str, tuple[str, ...]], sent: list[Any]) -> None:
        self.tokens: dict[str, dict[str, str]] = {}
        self._subscriptions = subscriptions
        self._sent = sent
        self._ids = itertools.count(1)

    def add_account(self, token: str, *, user_id: str, username: str) -> None:
        """Accept *token* as the professional account *user_id*."""
        self.tokens[token] = {
            "id": f"app-scoped-{user_id}",
            "user_id": user_id,
            "username": username,
        }

    def routes(self, router: web.UrlDispatcher) -> None:
        """Add the Instagram graph routes (before the Graph's catch-all ``/{version}/{id}``)."""
        router.add_get(PREFIX + "/me", self._me)
        router.add_get(PREFIX + "/refresh_access_token", self._refresh)
        router.add_route("*", PREFIX + "/me/subscribed_apps", self._subscribed_apps)
        router.add_post(PREFIX + "/{id}/messages", self._messages)

    def _account(self, request: web.Request) -> dict[str, str] | None:
        return self.tokens.get(bearer_or_query_token(request))

    @staticmethod
    def _refused() -> web.Response:
        return error_response(190, "Invalid OAuth access token - Cannot parse access token")

    async def _me(self, request: web.Request) -> web.Response:
        account = self._account(request)
        return web.json_response(account) if account is not None else self._refused()

    async def _refresh(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if account is None or request.query.get("grant_type") != "ig_refresh_token":
            return self._refused()
        new = f"IGAArefreshed{next(self._ids)}{secrets.token_hex(12)}"
        self.tokens[new] = account
        return web.json_response(
            {"access_token": new, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
        )

    async def _subscribed_apps(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if account is None:
            return self._refused()
        return subscription(request, self._subscriptions, f"instagram:{account['user_id']}")

    async def _messages(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if account is None:
            return self._refused()
        if request.match_info["id"] not in (account["user_id"], "me"):
            return unknown_object(request.match_info["id"])
        body = await request.json()
        self._sent.append({"from": f"instagram:{account['user_id']}", **body})
        recipient = body.get("recipient", {}).get("id")
        mid = f"ig_m_{next(self._ids)}"
        return web.json_response({"recipient_id": recipient, "message_id": mid})
