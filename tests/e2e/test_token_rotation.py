"""Token rotation end to end: a real ``serve`` and ``rotate-tokens`` on fake Meta and Telegram.

Every scenario runs on SQLite and on PostgreSQL. Integrations are connected through the setup
API (which learns each token's expiry from ``debug_token``, or estimates an Instagram Login
token's); events reach the messaging sink through the outbox, as every other event does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .forwarding_support import PHONE_NUMBER_ID, metric, post, wait_until, wamid, whatsapp_delivery
from .messaging_sink import MessagingSink
from .rotation_support import (
    WABA_ID,
    Fakes,
    StartRotation,
    events_of,
    expires_in_days,
    fakes,
    in_days,
    set_token_expiry,
    start_rotation,
)

__all__ = ["fakes", "start_rotation"]  # fixtures, used by name

WA_TOKEN = "EAAwhatsapprotation0001"
IG_TOKEN = "IGAAinstagramrotation0001"
IG_ACCOUNT = "17841400000000042"
BOT_OK = "5151515151:AAE-rotation-bot-ok"
BOT_REVOKED = "6161616161:AAE-rotation-bot-revoked"
SYSTEM_TOKEN = "EAAsystemuserrotation0001"
SYSTEM_NUMBER = "2098765432"


def whatsapp_body() -> dict[str, str]:
    return {
        "phone_number_id": PHONE_NUMBER_ID,
        "business_account_id": WABA_ID,
        "access_token": WA_TOKEN,
    }


def test_rotate_tokens_refreshes_expiring_tokens_and_notices_a_revoked_bot(
    start_rotation: StartRotation,
    run_cli: Callable[..., Any],
    fakes: Fakes,
    sink: MessagingSink,
) -> None:
    meta, telegram = fakes.meta, fakes.telegram
    meta.add_token(WA_TOKEN, type="USER", expires_at=in_days(3))
    meta.add_instagram_account(IG_TOKEN, user_id=IG_ACCOUNT, username="acme_shop")
    telegram.add_bot(BOT_OK, username="acme_ok_bot")
    telegram.add_bot(BOT_REVOKED, username="acme_revoked_bot")
    # Only the command rotates here; the margin takes in the estimated Instagram expiry.
    service = start_rotation(TOKEN_ROTATION_INTERVAL="24h", TOKEN_REFRESH_MARGIN="31d")
    whatsapp = service.setup("whatsapp", whatsapp_body())
    assert 2.9 < expires_in_days(whatsapp) < 3.1
    instagram = service.setup(
        "instagram", {"instagram_account_id": IG_ACCOUNT, "access_token": IG_TOKEN}
    )
    # Nothing tells an Instagram Login token's expiry: setup records half its 60 days.
    assert 29.9 < expires_in_days(instagram) < 30.1
    assert instagram["config"]["token_expiry_estimated"] == "true"
    bot_ok = service.setup("telegram", {"bot_token": BOT_OK})
    bot_revoked = service.setup("telegram", {"bot_token": BOT_REVOKED})
    del telegram.bots[BOT_REVOKED]  # @BotFather /revoke
    # A WhatsApp system-user token that never expires, then is invalidated in Business Manager.
    meta.add_phone_number(SYSTEM_NUMBER, waba_id="waba-rotation-2")
    system_token = meta.add_token(SYSTEM_TOKEN, type="SYSTEM_USER", expires_at=0)
    system = service.setup(
        "whatsapp",
        {
            "phone_number_id": SYSTEM_NUMBER,
            "business_account_id": "waba-rotation-2",
            "access_token": SYSTEM_TOKEN,
        },
    )
    assert system["token_expires_at"] is None
    system_token.expired = True

    done = run_cli("rotate-tokens", **service.env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5 integration(s): probed 1, refreshed 2, revoked 2"
    for secret in (BOT_OK, BOT_REVOKED, *meta.tokens, *meta.instagram.tokens):
        assert secret not in done.stdout + done.stderr
    assert len(meta.calls_to("/oauth/access_token")) == 1
    assert len(meta.calls_to("/refresh_access_token")) == 1
    for refreshed in (whatsapp, instagram):
        now = service.integration(refreshed["id"])
        assert now["status"] == "active"
        assert 59 < expires_in_days(now) < 61
    assert service.integration(bot_ok["id"])["status"] == "active"
    assert service.integration(bot_revoked["id"])["status"] == "reauthorization_required"
    assert service.integration(system["id"])["status"] == "reauthorization_required"
    sink.wait_for(
        lambda s: bool(events_of(s, bot_revoked["id"], "integration.reauthorization_required")),
        what="integration.reauthorization_required for the revoked bot",
    )
    (event,) = events_of(sink, bot_revoked["id"], "integration.reauthorization_required")
    assert event["channel"] == "telegram"
    assert event["data"] == {
        "integration": {
            "id": bot_revoked["id"],
            "channel": "telegram",
            "status": "reauthorization_required",
            "token_expires_at": None,
        }
    }
    # Nothing is due any more: refreshed tokens are far from expiry, the bot probed recently.
    again = run_cli("rotate-tokens", **service.env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "no integration was due for token rotation"


def test_an_expired_token_is_marked_expired_and_its_messages_still_flow(
    start_rotation: StartRotation,
    run_cli: Callable[..., Any],
    fakes: Fakes,
    sink: MessagingSink,
) -> None:
    meta = fakes.meta
    meta.add_token(WA_TOKEN, type="USER", expires_at=in_days(-0.01))  # lapsed 15 minutes ago
    service = start_rotation(TOKEN_ROTATION_INTERVAL="24h")
    whatsapp = service.setup("whatsapp", whatsapp_body())
    meta.fail_next(1000, status=503)  # Graph is down: the token cannot be exchanged

    done = run_cli("rotate-tokens", **service.env)

    assert done.returncode == 1, done.stderr  # a refresh failed on the way
    assert done.stdout.strip() == "1 integration(s): failed 1"
    assert service.integration(whatsapp["id"])["status"] == "expired"
    message_id = wamid()
    assert post(service.service, whatsapp_delivery([message_id])) == 200
    sink.wait_for(
        lambda s: (
            message_id in s.message_ids()
            and bool(events_of(s, whatsapp["id"], "integration.expired"))
        ),
        what="the customer's message and integration.expired",
    )
    (received,) = [e for e in sink.received if e["type"] == "message.received"]
    assert received["integration_id"] == whatsapp["id"]
    (expired,) = events_of(sink, whatsapp["id"], "integration.expired")
    assert expired["data"]["integration"]["status"] == "expired"
    assert events_of(sink, whatsapp["id"], "integration.token_expiring") == []


def test_the_scheduler_cools_down_then_gives_up_and_tells_the_messaging_service(
    start_rotation: StartRotation,
    fakes: Fakes,
    sink: MessagingSink,
    database_url: str,
) -> None:
    meta = fakes.meta
    meta.add_token(WA_TOKEN, type="USER", expires_at=in_days(30))  # not due yet
    service = start_rotation(
        TOKEN_ROTATION_INTERVAL="1s",
        TOKEN_REFRESH_COOLDOWN="1s",
        TOKEN_REFRESH_MAX_FAILURES="3",
    )
    whatsapp = service.setup("whatsapp", whatsapp_body())
    meta.fail_next(10_000, status=500)  # Graph goes down...
    # ...and the token turns out to expire in 3 days (as a later debug_token would say).
    set_token_expiry(database_url, whatsapp["id"], datetime.now(UTC) + timedelta(days=3))

    sink.wait_for(
        lambda s: bool(events_of(s, whatsapp["id"], "integration.reauthorization_required")),
        timeout=90,
        what="integration.reauthorization_required after the failed refreshes",
    )

    assert service.integration(whatsapp["id"])["status"] == "reauthorization_required"
    assert len(events_of(sink, whatsapp["id"], "integration.token_expiring")) == 1

    def counted(outcome: str) -> float | None:
        return metric(
            service.service,
            "integration_token_refreshes_total",
            channel="whatsapp",
            outcome=outcome,
        )

    wait_until(lambda: counted("exhausted") == 1.0, timeout=10, what="the exhausted count")
    assert counted("failed") == 2.0
    expiry = metric(
        service.service,
        "integration_token_expiry_seconds",
        channel="whatsapp",
        integration_id=whatsapp["id"],
    )
    assert expiry is not None
    assert 2.9 * 86400 < expiry < 3.1 * 86400
