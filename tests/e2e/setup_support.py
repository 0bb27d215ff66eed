"""What the setup end-to-end tests share: fake platforms, one setup body per channel, a client.

The fakes (Meta with its Instagram graph, Telegram, Tawk.to) run in threads on 127.0.0.1; a
real ``serve`` process is pointed at them through the documented ``*_BASE_URL`` variables.
:class:`Api` records every answer the service gives (status, headers, body), so a test can
scan them all for secrets.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pytest

from ..fakes.fake_meta import APP_ID, APP_SECRET, FakeMeta
from ..fakes.fake_tawkto import FakeTawkTo
from ..fakes.fake_telegram import FakeTelegram
from .conftest import Service
from .forwarding_support import JWT_SECRET, service_env
from .messaging_sink import MessagingSink

SETUP_CHANNELS = ("whatsapp", "messenger", "instagram", "telegram", "webchat", "tawkto")

WA_TOKEN = "EAAGwaE2eSystemUserToken" + secrets.token_hex(16)
PAGE_TOKEN = "EAAGpageE2eToken" + secrets.token_hex(16)
IG_TOKEN = "IGAAe2eInstagramLoginToken" + secrets.token_hex(16)
BOT_TOKEN = "7001234567:AAE" + secrets.token_urlsafe(24).replace("-", "x")
TAWK_API_KEY = "tawk-api-key-" + secrets.token_hex(16)
TAWK_WEBHOOK_SECRET = "tawk-webhook-secret-" + secrets.token_hex(16)
CUSTOMER_APP_SECRET = "customer-app-secret-" + secrets.token_hex(16)
ENCRYPTION_KEY = secrets.token_hex(32)

PHONE, WABA, PAGE = "106540352242922", "102290129340398", "1122334455"
IG_USER = "17841400000000001"
BOT_ID = BOT_TOKEN.split(":", 1)[0]
TELEGRAM_CHAT = "555001"
PROPERTY = "prop-e2e-1"

BODIES: Mapping[str, dict[str, Any]] = {
    "whatsapp": {
        "phone_number_id": PHONE,
        "business_account_id": WABA,
        "access_token": WA_TOKEN,
        "app_secret": CUSTOMER_APP_SECRET,
    },
    "messenger": {"page_id": PAGE, "page_access_token": PAGE_TOKEN},
    "instagram": {"instagram_account_id": IG_USER, "access_token": IG_TOKEN},
    "telegram": {"bot_token": BOT_TOKEN},
    "webchat": {"name": "Shop", "allowed_origins": ["https://shop.example.com"]},
    "tawkto": {
        "property_id": PROPERTY,
        "widget_id": "widget-1",
        "api_key": TAWK_API_KEY,
        "webhook_secret": TAWK_WEBHOOK_SECRET,
    },
}
EXTERNAL_IDS = {
    "whatsapp": PHONE,
    "messenger": PAGE,
    "instagram": IG_USER,
    "telegram": BOT_ID,
    "tawkto": PROPERTY,
}
# Who a test message goes to, per channel (Tawk.to and webchat have no sending API).
RECIPIENTS = {
    "whatsapp": "5491100000000",
    "messenger": "psid-1",
    "instagram": "igsid-1",
    "telegram": TELEGRAM_CHAT,
}


@attrs.frozen
class Platforms:
    """The running fakes."""

    meta: FakeMeta
    telegram: FakeTelegram
    tawkto: FakeTawkTo

    def env(self) -> dict[str, str]:
        """Return the variables that point a service at these fakes."""
        return {
            "META_GRAPH_BASE_URL": self.meta.graph_url,
            "META_GRAPH_VERSION": self.meta.version,
            "INSTAGRAM_GRAPH_BASE_URL": self.meta.instagram_url,
            "META_APP_ID": APP_ID,
            # A Meta channel's webhook secret is its app's App Secret, also used for debug_token.
            "WHATSAPP_WEBHOOK_SECRET": APP_SECRET,
            "MESSENGER_WEBHOOK_SECRET": APP_SECRET,
            "INSTAGRAM_WEBHOOK_SECRET": APP_SECRET,
            "TELEGRAM_API_BASE_URL": self.telegram.url,
            "TAWKTO_BASE_URL": self.tawkto.api_url,
        }

    def issued_tokens(self) -> set[str]:
        """Return every token the fakes know, those they issued on a refresh included."""
        return set(self.meta.tokens) | set(self.meta.instagram.tokens)


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    """Yield the fake platforms, knowing every account of :data:`BODIES`."""
    meta = FakeMeta().start_in_thread()
    telegram = FakeTelegram().start_in_thread()
    tawkto = FakeTawkTo().start_in_thread()
    try:
        meta.add_token(WA_TOKEN, type="USER")
        meta.add_token(PAGE_TOKEN, type="PAGE")
        meta.add_phone_number(PHONE, waba_id=WABA)
        meta.add_page(PAGE, name="Acme Page")
        meta.add_instagram_account(IG_TOKEN, user_id=IG_USER, username="acme.shop")
        telegram.add_bot(BOT_TOKEN, username="acme_e2e_bot", chats=(TELEGRAM_CHAT,))
        tawkto.add_key(TAWK_API_KEY, {PROPERTY: "Acme Shop"})
        yield Platforms(meta=meta, telegram=telegram, tawkto=tawkto)
    finally:
        for fake in (meta, telegram, tawkto):
            fake.shutdown()


def setup_env(
    database_url: str, sink: MessagingSink, platforms: Platforms, port: int, **extra: str
) -> dict[str, str]:
    """Return the environment of a service on *port* wired to the fakes."""
    return service_env(
        database_url,
        sink,
        PORT=str(port),
        BASE_URL=f"http://127.0.0.1:{port}",
        ENCRYPTION_KEY=ENCRYPTION_KEY,
        **platforms.env(),
        **extra,
    )


@attrs.frozen
class Answer:
    """One answer of the service."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@attrs.define
class Api:
    """Call a service's API as one tenant, recording every answer."""

    service: Service
    token: str
    answers: list[Answer] = attrs.field(factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        authorized: bool = True,
    ) -> Answer:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        if authorized:
            sent["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.service.port}{path}", data=data, headers=sent, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - local
                answer = Answer(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as exc:
            answer = Answer(exc.code, dict(exc.headers), exc.read().decode())
        self.answers.append(answer)
        return answer

    def setup(self, channel: str, body: Any = None, **headers: str) -> Answer:
        return self.call(
            "POST",
            f"/api/v1/integrations/{channel}/setup",
            BODIES[channel] if body is None else body,
            headers=headers,
        )


def mint_token(run_cli: Any, tenant: str) -> str:
    """Return a JWT for *tenant* with every integrations scope, minted by the real CLI."""
    minted = run_cli(
        "token",
        "--tenant",
        tenant,
        "--scope",
        "integrations:read integrations:write events:read",
        JWT_SECRET=JWT_SECRET,
    )
    assert minted.returncode == 0, minted.stderr
    return str(minted.stdout.strip())
