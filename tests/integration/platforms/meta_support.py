"""The Meta account the Graph client tests share, and a client for it with instant retries."""

from __future__ import annotations

import aiohttp

from adapters_platforms.meta_graph import MetaGraphClient
from integration_core.credentials import Secret
from integration_core.testing import FrozenClock

from ...fakes.fake_meta import APP_ID, APP_SECRET, FakeMeta
from .platform_support import AT, RecordingSleep, fast_retry

TOKEN = "EAAGwhatsappSystemUserToken0123456789abcdef"
PHONE, WABA = "106540352242922", "102290129340398"
PAGE = "1122334455"


def seed(fake: FakeMeta) -> None:
    """Give the fake the token, phone number and page the tests use."""
    fake.add_token(TOKEN, granular_scopes=(("whatsapp_business_messaging", (WABA,)),))
    fake.add_phone_number(PHONE, waba_id=WABA)
    fake.add_page(PAGE, name="Acme Page")


def graph(
    session: aiohttp.ClientSession,
    meta: FakeMeta,
    sleep: RecordingSleep | None = None,
    *,
    app: bool = True,
    timeout: float = 2.0,
) -> MetaGraphClient:
    return MetaGraphClient(
        session=session,
        base_url=meta.graph_url,
        version="v26.0",
        app_id=APP_ID if app else None,
        app_secret=Secret(APP_SECRET) if app else None,
        retry=fast_retry(sleep, timeout=timeout),
        clock=FrozenClock(AT),
    )
