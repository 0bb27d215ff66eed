"""TelegramClient against the fake Bot API on 127.0.0.1.

The bot token is part of every URL path, so besides each call and each error, these tests
check the token never shows up in an exception or a log line, whatever the failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters_platforms.telegram import ALLOWED_UPDATES, TelegramClient
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PlatformRateLimited,
    PlatformUnavailable,
)

from ...fakes.fake_telegram import FakeTelegram
from .platform_support import RecordingSleep, assert_secret_free, fast_retry

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
SECRET_TOKEN = "int_01-6Jx0aQ2wqYbq9t5n3m8kPz1rW4sV7uHcLdE-fGiYoTo"
CHAT = "424242"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.add_bot(TOKEN, username="acme_support_bot", chats=(CHAT,))
        yield fake


def client(
    session: aiohttp.ClientSession,
    telegram: FakeTelegram,
    sleep: RecordingSleep | None = None,
    *,
    timeout: float = 2.0,
) -> TelegramClient:
    return TelegramClient(
        session=session, base_url=telegram.url, retry=fast_retry(sleep, timeout=timeout)
    )


async def test_get_me(telegram: FakeTelegram, session: aiohttp.ClientSession) -> None:
    bot = await client(session, telegram).get_me(Secret(TOKEN))
    assert (bot.id, bot.username, bot.first_name) == (7012345678, "acme_support_bot", "Acme Bot")
    assert telegram.calls[0].path == f"/bot{TOKEN}/getMe"


async def test_webhook_lifecycle(telegram: FakeTelegram, session: aiohttp.ClientSession) -> None:
    api = client(session, telegram)
    url = "https://hooks.example.com/webhooks/telegram/int_01"

    await api.set_webhook(Secret(TOKEN), url=url, secret_token=Secret(SECRET_TOKEN))
    info = await api.get_webhook_info(Secret(TOKEN))
    await api.delete_webhook(Secret(TOKEN))
    cleared = await api.get_webhook_info(Secret(TOKEN))

    assert telegram.calls_to("/setWebhook")[0].json == {
        "url": url,
        "secret_token": SECRET_TOKEN,
        "allowed_updates": [
            "message",
            "edited_message",
            "channel_post",
            "callback_query",
            "message_reaction",
        ],
        "drop_pending_updates": False,
    }
    assert info.url == url
    assert info.allowed_updates == ALLOWED_UPDATES
    assert "secret" not in repr(info)
    assert telegram.calls_to("/deleteWebhook")[0].json == {"drop_pending_updates": False}
    assert cleared.url == ""


async def test_send_message(telegram: FakeTelegram, session: aiohttp.ClientSession) -> None:
    api = client(session, telegram)
    first = await api.send_message(Secret(TOKEN), chat_id=CHAT, text="¡hola! 👋")
    second = await api.send_message(Secret(TOKEN), chat_id=CHAT, text="again")
    assert (first, second) == ("1", "2")
    assert telegram.sent[0] == {"bot": 7012345678, "chat_id": CHAT, "text": "¡hola! 👋"}


async def test_unknown_and_malformed_tokens_are_invalid_credentials(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    api = client(session, telegram)
    revoked = "7012345678:AAHrevokedTokenRevokedTokenRevoked00"
    with pytest.raises(InvalidCredentials, match="Unauthorized") as unauthorized:
        await api.get_me(Secret(revoked))
    with pytest.raises(InvalidCredentials, match="Not Found"):
        await api.get_me(Secret("not-a-token"))
    assert str(unauthorized.value) == "Telegram getMe: Unauthorized"
    assert len(telegram.calls) == 2


async def test_a_refused_request_is_invalid_input_and_not_retried(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    api = client(session, telegram)
    with pytest.raises(InvalidInput, match="Bad Request: chat not found"):
        await api.send_message(Secret(TOKEN), chat_id="1", text="x")
    with pytest.raises(InvalidInput, match="unallowed characters"):
        await api.set_webhook(Secret(TOKEN), url="https://x", secret_token=Secret("no spaces!"))
    telegram.fail_next(
        1, status=403, body={"ok": False, "error_code": 403, "description": "Forbidden: blocked"}
    )
    with pytest.raises(InvalidInput, match="blocked"):  # blocked by the user: not our token
        await api.send_message(Secret(TOKEN), chat_id=CHAT, text="x")
    assert len(telegram.calls) == 3


async def test_retry_after_is_honoured_then_the_call_succeeds(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    telegram.rate_limit_next(1, retry_after=1)
    sleep = RecordingSleep()
    message_id = await client(session, telegram, sleep).send_message(
        Secret(TOKEN), chat_id=CHAT, text="x"
    )
    assert message_id == "1"
    assert sleep.waits == [1.0]
    assert len(telegram.sent) == 1


async def test_rate_limited_after_retries_or_when_the_wait_is_too_long(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    telegram.rate_limit_next(3, retry_after=2)
    with pytest.raises(PlatformRateLimited) as exhausted:
        await client(session, telegram).get_me(Secret(TOKEN))
    assert exhausted.value.retry_after == 2.0
    assert len(telegram.calls) == 3

    telegram.rate_limit_next(1, retry_after=60)
    with pytest.raises(PlatformRateLimited, match="retry after 60") as too_long:
        await client(session, telegram).get_me(Secret(TOKEN))
    assert too_long.value.retry_after == 60.0
    assert len(telegram.calls) == 4


async def test_5xx_is_retried_for_idempotent_methods_only(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    api = client(session, telegram)
    telegram.fail_next(1, status=502)
    assert (await api.get_me(Secret(TOKEN))).id == 7012345678
    assert len(telegram.calls_to("/getMe")) == 2

    telegram.fail_next(1, status=502)
    with pytest.raises(PlatformUnavailable, match="Bad Gateway"):
        await api.send_message(Secret(TOKEN), chat_id=CHAT, text="x")
    assert len(telegram.calls_to("/sendMessage")) == 1

    telegram.fail_next(3, status=500)
    with pytest.raises(PlatformUnavailable):
        await api.set_webhook(Secret(TOKEN), url="https://x", secret_token=Secret(SECRET_TOKEN))
    assert len(telegram.calls_to("/setWebhook")) == 3


async def test_timeouts_are_unavailable(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    telegram.stall_next(3, seconds=1.0)
    with pytest.raises(PlatformUnavailable, match="Telegram getMe: timed out"):
        await client(session, telegram, timeout=0.2).get_me(Secret(TOKEN))
    assert len(telegram.calls) == 3


async def test_the_bot_token_never_leaks(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    api = client(session, telegram)
    revoked = "7012345678:AAHrevokedTokenRevokedTokenRevoked00"
    messages: list[str] = []
    with capture_logs() as logs:
        # A proxy's error page that echoes the request path, token included.
        telegram.fail_next(3, status=502, text=f"<h1>502</h1><p>POST /bot{TOKEN}/getMe</p>")
        with pytest.raises(PlatformUnavailable) as echoed:
            await api.get_me(Secret(TOKEN))
        messages.append(str(echoed.value))
        for failing in (
            api.get_me(Secret(revoked)),
            api.set_webhook(Secret(TOKEN), url="https://x", secret_token=Secret("bad secret!")),
            TelegramClient(
                session=session, base_url="http://127.0.0.1:9", retry=fast_retry()
            ).get_me(Secret(TOKEN)),
        ):
            with pytest.raises(IntegrationServiceError) as caught:
                await failing
            messages.append(str(caught.value))
    assert "POST /bot[REDACTED]/getMe" in messages[0]
    assert logs
    assert_secret_free(
        [TOKEN, revoked, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"], *messages, logs=logs
    )
    assert_secret_free([SECRET_TOKEN], *messages, logs=logs)
