"""A fake Meta: the Facebook Graph API (pinned version) and the Instagram graph (``/instagram``).

It knows tokens, WhatsApp numbers, pages and Instagram Login accounts you add, and answers with
Meta's documented shapes, errors included: ``{"error": {"message", "type": "OAuthException",
"code": 190, "error_subcode": 463, "fbtrace_id"}}`` for an expired token, code 200 for a missing
permission, code 4 / 80004 throttling (:meth:`FakeMeta.throttle_next`), and any status on demand
(:meth:`FakeServer.fail_next`). Unknown tokens get "Malformed access token <token>", as Meta
answers, which also proves clients scrub what a platform echoes.
"""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

import attrs
from aiohttp import web

from .fake_instagram import InstagramGraph
from .meta_wire import (
    bearer_or_query_token,
    error_response,
    meta_error,
    subscription,
    unknown_object,
)
from .server import FakeServer

APP_ID = "100200300400500"
APP_SECRET = "fake-meta-app-secret-0123456789abcdef"
LONG_LIVED_SECONDS = 5183944


@attrs.define(kw_only=True)
class MetaToken:
    """A token the fake accepts, and what ``debug_token`` says about it."""

    value: str
    type: str = "SYSTEM_USER"
    scopes: tuple[str, ...] = (
        "whatsapp_business_messaging",
        "whatsapp_business_management",
        "pages_messaging",
        "pages_manage_metadata",
        "instagram_manage_messages",
    )
    granular_scopes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    expires_at: int = 0
    expired: bool = False
    denied: bool = False
    """Every object call answers code 200 (a permission the token lacks)."""


class FakeMeta(FakeServer):
    """Graph at :attr:`graph_url` (``/{version}/...``), Instagram graph at :attr:`instagram_url`."""

    def __init__(
        self, *, version: str = "v26.0", app_id: str = APP_ID, app_secret: str = APP_SECRET
    ) -> None:
        self.version = version
        self.app_id = app_id
        self.app_secret = app_secret
        self.tokens: dict[str, MetaToken] = {}
        self.phone_numbers: dict[str, dict[str, str]] = {}
        self.pages: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, tuple[str, ...]] = {}
        self.sent: list[dict[str, Any]] = []
        self.instagram = InstagramGraph(self.subscriptions, self.sent)
        self._ids = itertools.count(1)
        super().__init__()

    @property
    def graph_url(self) -> str:
        """Return the Graph API root (pass with :attr:`version` to the client)."""
        return self.url

    @property
    def instagram_url(self) -> str:
        """Return the Instagram graph root."""
        return f"{self.url}/instagram"

    # ------------------------------------------------------------------ state

    def add_token(self, value: str, **fields: Any) -> MetaToken:
        """Accept *value* as a Graph token (*fields*: see :class:`MetaToken`)."""
        token = MetaToken(value=value, **fields)
        self.tokens[value] = token
        return token

    def add_phone_number(
        self,
        phone_number_id: str,
        *,
        waba_id: str,
        display_phone_number: str = "+1 555-0100",
        verified_name: str = "Acme Support",
        quality_rating: str = "GREEN",
    ) -> None:
        """Know a WhatsApp number of the WABA *waba_id*."""
        self.phone_numbers[phone_number_id] = {
            "id": phone_number_id,
            "display_phone_number": display_phone_number,
            "verified_name": verified_name,
            "quality_rating": quality_rating,
            "waba_id": waba_id,
        }

    def add_page(
        self,
        page_id: str,
        *,
        name: str,
        instagram_account_id: str | None = None,
        instagram_username: str | None = None,
    ) -> None:
        """Know a Facebook Page, optionally linked to an Instagram professional account."""
        page: dict[str, Any] = {"id": page_id, "name": name}
        if instagram_account_id is not None:
            page["instagram_business_account"] = {
                "id": instagram_account_id,
                "username": instagram_username,
            }
        self.pages[page_id] = page

    def add_instagram_account(self, token: str, *, user_id: str, username: str) -> None:
        """Accept *token* on the Instagram graph as the account *user_id*."""
        self.instagram.add_account(token, user_id=user_id, username=username)

    def throttle_next(
        self,
        times: int = 1,
        *,
        code: int = 4,
        status: int = 400,
        retry_after: int | None = None,
        regain_minutes: int | None = None,
    ) -> None:
        """Throttle the next *times* calls with Meta's *code* (4 app, 80004 business use case)."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if regain_minutes is not None:
            usage = {
                "1": [{"type": "messenger", "estimated_time_to_regain_access": regain_minutes}]
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        body = meta_error(code, "(#4) Application request limit reached", is_transient=True)
        self.fail_next(times, status=status, body=body, headers=headers)

    def fault_body(self, status: int) -> Any:
        """Return Meta's body for an injected *status*."""
        if status >= 500:
            return meta_error(2, "Service temporarily unavailable", is_transient=True)
        if status == 401:
            return meta_error(190, "Invalid OAuth 2.0 Access Token")
        if status == 429:
            return meta_error(4, "(#4) Application request limit reached")
        return meta_error(100, "(#100) Invalid parameter")

    # ------------------------------------------------------------------ routes

    def routes(self, router: web.UrlDispatcher) -> None:
        """Serve the Graph calls the clients make, and the Instagram graph under a prefix."""
        self.instagram.routes(router)
        router.add_get("/{version}/debug_token", self._debug_token)
        router.add_get("/{version}/oauth/access_token", self._exchange)
        router.add_route("*", "/{version}/{id}/subscribed_apps", self._subscribed_apps)
        router.add_post("/{version}/{id}/messages", self._messages)
        router.add_get("/{version}/{id}", self._node)

    @staticmethod
    def _error(code: int, message: str, **extra: Any) -> web.Response:
        return error_response(code, message, **extra)

    def _wrong_version(self, request: web.Request) -> web.Response | None:
        version = request.match_info.get("version")
        if version == self.version:
            return None
        return self._error(2635, f"(#2635) This fake only serves {self.version}, not {version}")

    def _app_token_ok(self, value: str | None) -> bool:
        return value == f"{self.app_id}|{self.app_secret}"

    def _token(self, request: web.Request) -> tuple[MetaToken | None, web.Response | None]:
        if (wrong := self._wrong_version(request)) is not None:
            return None, wrong
        value = bearer_or_query_token(request)
        if not value:
            return None, self._error(2500, "An active access token must be used")
        token = self.tokens.get(value)
        if token is None:
            return None, self._error(190, f"Malformed access token {value}")
        if token.expired:
            message = "Error validating access token: Session has expired on Tuesday"
            return None, self._error(190, message, subcode=463)
        if token.denied:
            return None, self._error(200, "(#200) Permissions error")
        return token, None

    async def _debug_token(self, request: web.Request) -> web.Response:
        if (wrong := self._wrong_version(request)) is not None:
            return wrong
        if not self._app_token_ok(request.query.get("access_token")):
            return self._error(190, "Invalid OAuth access token signature.")
        token = self.tokens.get(request.query.get("input_token", ""))
        if token is None or token.expired:
            error = {"code": 190, "message": "Error validating access token", "subcode": 463}
            return web.json_response({"data": {"is_valid": False, "error": error, "scopes": []}})
        granular = [{"scope": s, "target_ids": list(t)} for s, t in token.granular_scopes]
        data = {
            "app_id": self.app_id,
            "type": token.type,
            "application": "Fake app",
            "expires_at": token.expires_at,
            "data_access_expires_at": 0,
            "is_valid": True,
            "scopes": list(token.scopes),
            "granular_scopes": granular,
            "user_id": "9000",
        }
        return web.json_response({"data": data})

    async def _exchange(self, request: web.Request) -> web.Response:
        if (wrong := self._wrong_version(request)) is not None:
            return wrong
        query = request.query
        if query.get("client_id") != self.app_id or query.get("client_secret") != self.app_secret:
            return self._error(1, "Error validating client secret.")
        old = self.tokens.get(query.get("fb_exchange_token", ""))
        if query.get("grant_type") != "fb_exchange_token" or old is None:
            return self._error(190, "Invalid OAuth access token.")
        if old.expired:
            return self._error(
                190, "Error validating access token: Session has expired", subcode=463
            )
        new = attrs.evolve(old, value=f"EAAlonglived{next(self._ids)}{secrets.token_hex(12)}")
        self.tokens[new.value] = new
        return web.json_response(
            {"access_token": new.value, "token_type": "bearer", "expires_in": LONG_LIVED_SECONDS}
        )

    async def _node(self, request: web.Request) -> web.Response:
        _token, refused = self._token(request)
        if refused is not None:
            return refused
        node_id = request.match_info["id"]
        fields = set(request.query.get("fields", "id").split(","))
        if node_id in self.phone_numbers:
            number = self.phone_numbers[node_id]
            return web.json_response({k: v for k, v in number.items() if k in fields | {"id"}})
        if node_id in self.pages:
            return web.json_response(self.pages[node_id])
        return unknown_object(node_id)

    async def _subscribed_apps(self, request: web.Request) -> web.Response:
        _token, refused = self._token(request)
        if refused is not None:
            return refused
        object_id = request.match_info["id"]
        wabas = {number["waba_id"] for number in self.phone_numbers.values()}
        if object_id not in wabas and object_id not in self.pages:
            return unknown_object(object_id)
        return subscription(request, self.subscriptions, object_id)

    async def _messages(self, request: web.Request) -> web.Response:
        _token, refused = self._token(request)
        if refused is not None:
            return refused
        sender = request.match_info["id"]
        body = await request.json()
        self.sent.append({"from": sender, **body})
        if sender in self.phone_numbers:
            if body.get("messaging_product") != "whatsapp" or body.get("type") != "text":
                return self._error(100, "(#100) Invalid parameter")
            wamid = f"wamid.{next(self._ids):012d}"
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                    "messages": [{"id": wamid}],
                }
            )
        if sender in self.pages:
            recipient = body.get("recipient", {}).get("id")
            return web.json_response(
                {"recipient_id": recipient, "message_id": f"m_{next(self._ids)}"}
            )
        return unknown_object(sender)
