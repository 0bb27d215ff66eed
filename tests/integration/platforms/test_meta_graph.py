"""MetaGraphClient and InstagramGraphClient against the fake Meta on 127.0.0.1.

Every call's success and each error class Meta's codes map to; the retry, timeout and secrecy
rules of the shared call helper are in ``test_platform_calls.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from adapters_platforms.meta_graph import InstagramGraphClient
from integration_core.credentials import Secret
from integration_core.errors import (
    ConfigurationError,
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PermissionMissing,
    PlatformRateLimited,
    PlatformUnavailable,
)
from integration_core.testing import FrozenClock

from ...fakes.fake_meta import APP_ID, APP_SECRET, LONG_LIVED_SECONDS, FakeMeta
from .meta_support import PAGE, PHONE, TOKEN, WABA, graph
from .platform_support import AT, RecordingSleep, fast_retry

# --------------------------------------------------------------------------- successes


async def test_debug_token_reads_validity_expiry_and_both_scope_lists(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    expiring = "EAAGexpiringUserToken0123456789abcdef"
    meta.add_token(expiring, type="USER", expires_at=1_790_000_000, scopes=("pages_messaging",))
    client = graph(session, meta)

    never = await client.debug_token(Secret(TOKEN))
    dated = await client.debug_token(Secret(expiring))

    assert never.is_valid
    assert never.expires_at is None
    assert never.type == "SYSTEM_USER"
    assert never.has_scope("whatsapp_business_management")  # only in the flat list
    assert never.granular_scopes[0].target_ids == (WABA,)
    assert dated.expires_at == datetime.fromtimestamp(1_790_000_000, UTC)
    call = meta.calls_to("/debug_token")[0]
    assert call.path == "/v26.0/debug_token"
    assert call.query["access_token"] == f"{APP_ID}|{APP_SECRET}"


async def test_debug_token_reports_an_invalid_token_as_an_answer(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    info = await graph(session, meta).debug_token(Secret("EAAGunknownToken0123456789"))
    assert not info.is_valid
    assert info.error_message == "Error validating access token"


async def test_token_inspection_needs_app_credentials(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = graph(session, meta, app=False)
    assert not client.has_app_credentials
    with pytest.raises(ConfigurationError, match="META_APP_ID"):
        await client.debug_token(Secret(TOKEN))
    with pytest.raises(ConfigurationError):
        await client.exchange_long_lived(Secret(TOKEN))
    assert meta.calls == []


async def test_exchange_long_lived_returns_a_60_day_token(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    refreshed = await graph(session, meta).exchange_long_lived(Secret(TOKEN))
    assert refreshed.expires_at == AT + timedelta(seconds=LONG_LIVED_SECONDS)
    assert refreshed.access_token.reveal() in meta.tokens
    query = meta.calls_to("/oauth/access_token")[0].query
    assert query == {
        "grant_type": "fb_exchange_token",
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "fb_exchange_token": TOKEN,
    }


async def test_object_calls_pin_the_version_and_send_the_token_in_a_header(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = graph(session, meta)
    number = await client.phone_number(PHONE, Secret(TOKEN))
    page = await client.page(PAGE, Secret(TOKEN))

    assert (number.display_phone_number, number.verified_name) == ("+1 555-0100", "Acme Support")
    assert number.quality_rating == "GREEN"
    assert (page.id, page.name) == (PAGE, "Acme Page")
    for call in meta.calls:
        assert call.path.startswith("/v26.0/")
        assert call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "access_token" not in call.query
    assert meta.calls[0].query["fields"] == "display_phone_number,verified_name,quality_rating"


async def test_subscribe_and_unsubscribe_app(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = graph(session, meta)
    await client.subscribe_app(WABA, Secret(TOKEN))
    await client.subscribe_app(PAGE, Secret(TOKEN), fields=["messages", "messaging_postbacks"])
    assert meta.subscriptions == {WABA: (), PAGE: ("messages", "messaging_postbacks")}
    await client.unsubscribe_app(WABA, Secret(TOKEN))
    assert WABA not in meta.subscriptions
    assert [c.method for c in meta.calls_to("/subscribed_apps")] == ["POST", "POST", "DELETE"]


async def test_send_whatsapp_and_messenger_texts(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    client = graph(session, meta)
    wamid = await client.send_whatsapp_text(PHONE, Secret(TOKEN), "5491155550000", "hola")
    mid = await client.send_messenger_text(PAGE, Secret(TOKEN), "psid-1", "hello")

    assert wamid.startswith("wamid.")
    assert mid.startswith("m_")
    assert meta.sent[0] == {
        "from": PHONE,
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5491155550000",
        "type": "text",
        "text": {"body": "hola"},
    }
    assert meta.sent[1]["recipient"] == {"id": "psid-1"}
    assert meta.sent[1]["messaging_type"] == "RESPONSE"


# --------------------------------------------------------------------------- error mapping


async def test_error_codes_map_to_domain_errors(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    meta.add_token("EAAGexpiredToken0123456789abcdef", expired=True)
    meta.add_token("EAAGdeniedToken0123456789abcdef", denied=True)
    client = graph(session, meta)

    with pytest.raises(InvalidCredentials) as unknown:
        await client.phone_number(PHONE, Secret("EAAGunknownToken0123456789abcdef"))
    with pytest.raises(InvalidCredentials, match="subcode 463") as expired:
        await client.phone_number(PHONE, Secret("EAAGexpiredToken0123456789abcdef"))
    with pytest.raises(PermissionMissing, match="code 200"):
        await client.phone_number(PHONE, Secret("EAAGdeniedToken0123456789abcdef"))
    with pytest.raises(InvalidInput, match="code 100, subcode 33"):
        await client.phone_number("999", Secret(TOKEN))

    assert type(unknown.value) is InvalidCredentials
    assert "Malformed access token" in unknown.value.message  # Meta's words, kept
    assert "EAAGunknownToken" not in unknown.value.message  # but not the token it echoed
    assert "fbtrace_id" in expired.value.message
    assert len(meta.calls) == 4  # none of these is retried


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, None, InvalidCredentials),
        (403, {"error": {"message": "(#10) denied", "code": 10}}, PermissionMissing),
        (400, {"error": {"message": "(#299) nope", "code": 299}}, PermissionMissing),
        (400, {"error": {"message": "odd", "code": 1, "is_transient": True}}, PlatformUnavailable),
        (502, None, PlatformUnavailable),
    ],
)
async def test_status_and_code_table(
    meta: FakeMeta,
    session: aiohttp.ClientSession,
    status: int,
    body: object,
    expected: type[IntegrationServiceError],
) -> None:
    meta.fail_next(3, status=status, body=body)
    with pytest.raises(expected) as caught:
        await graph(session, meta).phone_number(PHONE, Secret(TOKEN))
    assert type(caught.value) is expected


async def test_a_non_json_error_page_is_classified_by_status(
    meta: FakeMeta, session: aiohttp.ClientSession
) -> None:
    meta.fail_next(3, status=502, text="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(PlatformUnavailable, match="HTTP 502: <html><h1>502 Bad Gateway"):
        await graph(session, meta).phone_number(PHONE, Secret(TOKEN))


@pytest.mark.parametrize(("code", "status"), [(4, 400), (80004, 429), (130429, 400)])
async def test_throttling_after_retries_is_rate_limited(
    meta: FakeMeta, session: aiohttp.ClientSession, code: int, status: int
) -> None:
    meta.throttle_next(3, code=code, status=status)
    sleep = RecordingSleep()
    with pytest.raises(PlatformRateLimited) as caught:
        await graph(session, meta, sleep).phone_number(PHONE, Secret(TOKEN))
    assert caught.value.retry_after is None
    assert len(meta.calls) == 3
    assert len(sleep.waits) == 2


# --------------------------------------------------------------------------- Instagram graph


async def test_instagram_graph_calls(meta: FakeMeta, session: aiohttp.ClientSession) -> None:
    ig_token = "IGAAlongLivedInstagramToken0123456789"
    meta.add_instagram_account(ig_token, user_id="17841400000000001", username="acme")
    client = InstagramGraphClient(
        session=session,
        base_url=meta.instagram_url,
        retry=fast_retry(),
        clock=FrozenClock(AT),
    )

    me = await client.me(Secret(ig_token))
    await client.subscribe_app(Secret(ig_token), ["messages"])
    mid = await client.send_text("17841400000000001", Secret(ig_token), "igsid-1", "hi")
    refreshed = await client.refresh_access_token(Secret(ig_token))
    await client.unsubscribe_app(Secret(ig_token))

    assert (me.user_id, me.username) == ("17841400000000001", "acme")
    assert mid.startswith("ig_m_")
    assert refreshed.expires_at == AT + timedelta(seconds=LONG_LIVED_SECONDS)
    assert refreshed.access_token.reveal() in meta.instagram.tokens
    assert meta.subscriptions == {}
    refresh = meta.calls_to("/refresh_access_token")[0]
    assert refresh.query == {"grant_type": "ig_refresh_token", "access_token": ig_token}
    with pytest.raises(InvalidCredentials) as caught:
        await client.me(Secret("IGAAunknownInstagramToken0123456789"))
    assert "IGAAunknown" not in str(caught.value)
