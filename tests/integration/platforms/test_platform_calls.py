"""The shared call helper's rules, exercised through MetaGraphClient against the fake Meta.

Retries only where safe (reads, refused-while-throttled, connections that never carried the
request), ``Retry-After`` honoured, timeouts and unreachable hosts as PlatformUnavailable, and
no secret in any exception message or log line.
"""

from __future__ import annotations

import socket

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters_platforms.meta_graph import MetaGraphClient
from adapters_platforms.redaction import scrub
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    PlatformRateLimited,
    PlatformUnavailable,
)

from ...fakes.fake_meta import APP_ID, APP_SECRET, FakeMeta
from .meta_support import PHONE, TOKEN, WABA, graph
from .platform_support import RecordingSleep, assert_secret_free, fast_retry

# --------------------------------------------------------------------------- retries


async def test_a_5xx_read_is_retried_then_succeeds(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    meta.fail_next(1, status=503)
    sleep = RecordingSleep()
    number = await graph(session, meta, sleep).phone_number(PHONE, Secret(TOKEN))
    assert number.id == PHONE
    assert len(meta.calls) == 2
    assert len(sleep.waits) == 1


async def test_retry_after_is_honoured_even_for_a_send(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    meta.throttle_next(1, status=429, retry_after=1)
    sleep = RecordingSleep()
    wamid = await graph(session, meta, sleep).send_whatsapp_text(PHONE, Secret(TOKEN), "1", "x")
    assert wamid.startswith("wamid.")
    assert sleep.waits == [1.0]
    assert len(meta.calls_to("/messages")) == 2  # refused, then accepted: sent once


async def test_a_wait_longer_than_allowed_fails_at_once_with_it(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    meta.throttle_next(1, code=80004, regain_minutes=5)
    with pytest.raises(PlatformRateLimited) as caught:
        await graph(session, meta).phone_number(PHONE, Secret(TOKEN))
    assert caught.value.retry_after == 300.0
    assert len(meta.calls) == 1


async def test_a_send_is_not_retried_after_a_5xx(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    # The request reached Meta: it may have been delivered, and a retry could send it twice.
    meta.fail_next(1, status=503)
    with pytest.raises(PlatformUnavailable):
        await graph(session, meta).send_whatsapp_text(PHONE, Secret(TOKEN), "1", "x")
    assert len(meta.calls) == 1


async def test_timeouts_are_unavailable_and_only_reads_retry_them(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = graph(session, meta, timeout=0.2)
    meta.stall_next(3, seconds=1.0)
    with pytest.raises(PlatformUnavailable, match="timed out"):
        await client.phone_number(PHONE, Secret(TOKEN))
    assert len(meta.calls) == 3

    meta.stall_next(1, seconds=1.0)
    with pytest.raises(PlatformUnavailable, match="timed out"):
        await client.send_whatsapp_text(PHONE, Secret(TOKEN), "1", "x")
    assert len(meta.calls_to("/messages")) == 1


async def test_a_connection_refused_before_sending_is_retried_even_for_a_send(
    session: aiohttp.ClientSession,
) -> None:
    # Nothing listens yet; the first backoff starts the fake on that port.
    meta = FakeMeta()
    port = _free_port()

    async def start() -> None:
        await meta.start(port)
        meta.add_token(TOKEN)
        meta.add_phone_number(PHONE, waba_id=WABA)

    sleep = RecordingSleep(then=start)
    client = MetaGraphClient(
        session=session, base_url=f"http://127.0.0.1:{port}", retry=fast_retry(sleep)
    )
    try:
        wamid = await client.send_whatsapp_text(PHONE, Secret(TOKEN), "1", "x")
    finally:
        await meta.close()
    assert wamid.startswith("wamid.")
    assert len(sleep.waits) == 1
    assert len(meta.calls) == 1


async def test_an_unreachable_platform_is_unavailable(session: aiohttp.ClientSession) -> None:
    sleep = RecordingSleep()
    client = MetaGraphClient(
        session=session, base_url="http://127.0.0.1:9", retry=fast_retry(sleep)
    )
    with pytest.raises(PlatformUnavailable, match="could not be reached"):
        await client.send_whatsapp_text(PHONE, Secret(TOKEN), "1", "x")
    assert len(sleep.waits) == 2


# --------------------------------------------------------------------------- secrets


async def test_no_secret_reaches_an_exception_or_a_log_line(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    unknown = "EAAGneverSeenBefore0123456789abcdef"
    wrong_app = MetaGraphClient(
        session=session,
        base_url=meta.graph_url,
        app_id=APP_ID,
        app_secret=Secret("wrong-app-secret-0123456789"),
        retry=fast_retry(),
    )
    messages: list[str] = []
    with capture_logs() as logs:
        for call in (
            graph(session, meta).phone_number(PHONE, Secret(unknown)),
            wrong_app.debug_token(Secret(TOKEN)),
            wrong_app.exchange_long_lived(Secret(TOKEN)),
        ):
            with pytest.raises(IntegrationServiceError) as caught:
                await call
            messages.append(str(caught.value))
        meta.fail_next(3, status=500)
        with pytest.raises(PlatformUnavailable) as outage:
            await graph(session, meta).debug_token(Secret(TOKEN))
        messages.append(str(outage.value))
    assert logs, "failures and retries are logged"
    assert {entry["event"] for entry in logs} == {"platform_call_failed", "platform_call_retrying"}
    assert_secret_free(
        [unknown, TOKEN, APP_SECRET, "wrong-app-secret-0123456789"], *messages, logs=logs
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Connection timeout to host http://h/bot7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5P/getMe",
            "Connection timeout to host http://h/bot[REDACTED]/getMe",
        ),
        (
            "GET /v26.0/debug_token?input_token=abc&access_token=1|s3cr3t&fields=id",
            "GET /v26.0/debug_token?input_token=[REDACTED]&access_token=[REDACTED]&fields=id",
        ),
        ("setWebhook secret_token=int_01-xyz", "setWebhook secret_token=[REDACTED]"),
        ("Authorization: Bearer EAAGabc.def", "Authorization: Bearer [REDACTED]"),
        ("Malformed access token EAAGabcdefghijklmnopqrstu", "Malformed access token [REDACTED]"),
        ("token 7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5P", "token [REDACTED]"),
    ],
)
def test_scrub_masks_secret_shapes_without_being_told(text: str, expected: str) -> None:
    # What aiohttp puts in some exception texts (the full URL) and what platforms echo.
    assert scrub(text) == expected


def test_scrub_masks_exact_secrets_longest_first() -> None:
    assert scrub("key abcdef-ghijkl and abcdef", ["abcdef", "abcdef-ghijkl"]) == (
        "key [REDACTED] and [REDACTED]"
    )
    assert scrub("short abc stays", ["abc"]) == "short abc stays"
