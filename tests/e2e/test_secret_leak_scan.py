"""No secret leaves the service: a full setup of every channel, scanned on both databases.

A real ``serve`` process connects whatsapp, messenger, instagram, telegram, webchat and tawkto
against the fake platforms, then shows, lists, changes, tests, refreshes, rotates and deletes
them, receives signed webhooks and is refused bad credentials (which the fake Meta echoes back,
as Meta does). Every answer (status line, headers, body) and everything the process wrote
(its JSON logs at debug level, and stderr) is then searched for every secret involved: the
tenant's tokens, app secrets, API keys and webhook secrets, the tokens the platforms issued on
refresh, the generated Telegram secret token, the JWT and the service's own keys. Webchat's
signing secret may appear in its creation answer only; a Meta integration's own verify token in
its creation answer and the replay of that setup only (a handshake with it is answered too).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from integration_core.credentials import Secret
from integration_core.signatures import standard_webhooks, tawkto

from ..fakes.fake_meta import APP_SECRET
from .conftest import StartService, free_port
from .forwarding_support import JWT_SECRET
from .messaging_sink import MessagingSink
from .setup_support import (
    BODIES,
    ENCRYPTION_KEY,
    RECIPIENTS,
    SETUP_CHANNELS,
    Api,
    Platforms,
    mint_token,
    platforms,
    setup_env,
)

__all__ = ["platforms"]  # the fixture, imported so pytest finds it here

TENANT = "tenant-leak-scan"
ROTATED_TAWK_SECRET = "tawk-rotated-secret-7f3a9c1e2b4d6f80"
WRONG_META_TOKEN = "EAAGwrongTokenThatMetaEchoes0123456789abcdef"
WRONG_BOT_TOKEN = "7009999999:AAEwrongBotTokenWrongBotToken012345"
SECRET_FIELDS = frozenset(
    {"access_token", "app_secret", "page_access_token", "bot_token", "api_key", "webhook_secret"}
)


def test_no_secret_reaches_a_response_or_a_log_line(
    start_service: StartService,
    run_cli: Callable[..., Any],
    sink: MessagingSink,
    platforms: Platforms,
    database_url: str,
) -> None:
    port = free_port()
    env = setup_env(database_url, sink, platforms, port, LOG_LEVEL="debug")
    service = start_service(port=port, **env)
    service.wait_for_health(200)
    token = mint_token(run_cli, TENANT)
    api = Api(service, token)

    # Refused credentials first: Meta echoes the token in its error ("Malformed access token").
    wrong_meta = api.setup("whatsapp", {**BODIES["whatsapp"], "access_token": WRONG_META_TOKEN})
    wrong_bot = api.setup("telegram", {"bot_token": WRONG_BOT_TOKEN})
    assert (wrong_meta.status, wrong_bot.status) == (422, 422), (wrong_meta, wrong_bot)

    created: dict[str, dict[str, Any]] = {}
    for channel in SETUP_CHANNELS:
        answer = api.setup(channel, **{"Idempotency-Key": f"leak-scan-{channel}"})
        assert answer.status == 201, (channel, answer)
        created[channel] = answer.json()
    creation_of_webchat = api.answers[-1 - SETUP_CHANNELS[::-1].index("webchat")]
    signing_secret = created["webchat"]["signing_secret"]
    bot = platforms.telegram.bots[BODIES["telegram"]["bot_token"]]
    assert bot.webhook is not None
    telegram_secret_token = str(bot.webhook["secret_token"])
    replay = api.setup("whatsapp", **{"Idempotency-Key": "leak-scan-whatsapp"})
    assert replay.status == 200
    meta_channels = ("whatsapp", "messenger", "instagram")
    verify_tokens = {created[channel]["verify_token"] for channel in meta_channels}
    handing_out = {id(a) for a in api.answers if any(t in a.text for t in verify_tokens)}
    assert len(handing_out) == 4, "three creations and the replay"
    for channel in meta_channels:
        own = created[channel]["verify_token"]  # URL-safe: no quoting needed
        path = f"/api/v1/integrations/webhooks/{channel}?hub.mode=subscribe&hub.challenge=42"
        path += f"&hub.verify_token={own}"
        assert (shake := api.call("GET", path, authorized=False)).status == 200, shake

    _manage(api, created)
    _receive(api, created, signing_secret, telegram_secret_token)
    for channel in SETUP_CHANNELS:
        deleted = api.call("DELETE", f"/api/v1/integrations/{created[channel]['id']}")
        assert deleted.status == 204, (channel, deleted)
    assert api.call("GET", "/api/v1/integrations/channels").json()["data"] == []
    assert service.stop() == 0

    secrets = {
        *(value for body in BODIES.values() for key, value in body.items() if key in SECRET_FIELDS),
        *platforms.issued_tokens(),
        WRONG_META_TOKEN,
        WRONG_BOT_TOKEN,
        ROTATED_TAWK_SECRET,
        telegram_secret_token,
        APP_SECRET,
        token,
        JWT_SECRET,
        ENCRYPTION_KEY,
        sink.signing_secret,
        env["TELEGRAM_WEBHOOK_SECRET"],
        env["TAWKTO_WEBHOOK_SECRET"],
    }
    assert len(secrets) >= 20  # every platform issued its refreshed token too
    answers = [_render(a) for a in api.answers if a is not creation_of_webchat]
    output = service.output()
    assert output.count("\n") > 50, "the service logged too little for the scan to mean much"
    for secret in sorted(secrets):
        assert not [a for a in answers if secret in a], f"a response carries {secret[:6]}..."
        assert secret not in output, f"the logs carry {secret[:6]}..."
    assert not [a for a in answers if signing_secret in a]
    assert signing_secret not in output
    later = [_render(a) for a in api.answers if id(a) not in handing_out]
    for verify_token in sorted(verify_tokens):
        assert not [a for a in later if verify_token in a], "a verify token was shown again"
        assert verify_token not in output, "the logs carry a verify token"
    # The checks were reached: calls went to the platforms, and every line parsed as JSON.
    assert platforms.meta.calls_to(f"/{BODIES['whatsapp']['business_account_id']}/subscribed_apps")
    assert platforms.telegram.sent
    assert all(line["level"] for line in service.log_lines())


def _manage(api: Api, created: dict[str, dict[str, Any]]) -> None:
    """Show, list, change, test and refresh every integration; rotate Tawk.to's secrets."""
    assert api.call("GET", "/api/v1/integrations/channels").status == 200
    for channel, integration in created.items():
        one = f"/api/v1/integrations/{integration['id']}"
        assert api.call("GET", one).status == 200
        patched = api.call("PATCH", one, {"config": {"label": f"{channel} line"}})
        assert patched.status == 200, (channel, patched)
        assert api.call("PATCH", one, {"status": "disabled"}).status == 200
        assert api.call("PATCH", one, {"status": "active"}).status == 200
        message = {"to": RECIPIENTS.get(channel, "anyone"), "text": "test"}
        sent = api.call("POST", f"{one}/test-message", message)
        expected_send = 200 if channel in RECIPIENTS else 409  # Tawk.to and webchat cannot send
        assert sent.status == expected_send, (channel, sent)
        refreshed = api.call("POST", f"{one}/refresh-token")
        expected = 200 if channel in ("whatsapp", "messenger", "instagram") else 409
        # The scheduler of the same process may be rotating the fresh token right now: a refresh
        # then answers 409 until its lease is released (CONTRACT section 10); ask again.
        deadline = time.monotonic() + 10
        while expected == 200 and refreshed.status == 409 and time.monotonic() < deadline:
            time.sleep(0.25)
            refreshed = api.call("POST", f"{one}/refresh-token")
        assert refreshed.status == expected, (channel, refreshed)
    tawk = f"/api/v1/integrations/tawkto/config/{created['tawkto']['tenant_id']}"
    assert api.call("GET", tawk).status == 200
    rotated = api.call(
        "PUT",
        tawk,
        {"webhook_secret": ROTATED_TAWK_SECRET, "api_key": BODIES["tawkto"]["api_key"]},
    )
    assert rotated.status == 200, rotated
    wrong_key = api.call("PUT", tawk, {"api_key": "tawk-wrong-key-0123456789abcdef"})
    assert wrong_key.status == 422


def _receive(
    api: Api, created: dict[str, dict[str, Any]], signing_secret: str, secret_token: str
) -> None:
    """Deliver a signed webhook to Telegram's, webchat's and Tawk.to's integrations."""
    update = {
        "update_id": 77001,
        "message": {
            "message_id": 1,
            "from": {"id": 555001, "is_bot": False, "first_name": "Ana"},
            "chat": {"id": 555001, "type": "private"},
            "date": int(time.time()),
            "text": "hola",
        },
    }
    telegram = api.call(
        "POST",
        f"/api/v1/integrations/webhooks/telegram/{created['telegram']['id']}",
        update,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret_token},
        authorized=False,
    )
    assert telegram.status == 200, telegram
    body = json.dumps(
        {
            "conversation_id": "conv-1",
            "sender": {"id": "visitor-1"},
            "message": {"id": "m-1", "text": "hi"},
        }
    ).encode()
    headers = standard_webhooks.headers(Secret(signing_secret), "msg_e2e_1", int(time.time()), body)
    webchat = api.call(
        "POST",
        f"/api/v1/integrations/webhooks/webchat/{created['webchat']['id']}",
        raw=body,
        headers=dict(headers),
        authorized=False,
    )
    assert webchat.status == 200, webchat
    chat = json.dumps(
        {
            "event": "chat:start",
            "chatId": "chat-1",
            "time": "2026-01-01T10:00:00.000Z",
            "property": {"id": created["tawkto"]["external_id"]},
        }
    ).encode()
    signature = tawkto.sign(Secret(ROTATED_TAWK_SECRET), chat)
    # Signed with its own secret: delivered to its own route, the webhook_url setup gave.
    delivered = api.call(
        "POST",
        f"/api/v1/integrations/webhooks/tawkto/{created['tawkto']['id']}",
        raw=chat,
        headers={tawkto.HEADER: signature},
        authorized=False,
    )
    assert delivered.status == 200, delivered
    tenant = created["tawkto"]["tenant_id"]
    # Acknowledged once spooled; the worker stage of the same process splits it meanwhile.
    deadline = time.monotonic() + 10
    while True:
        sessions = api.call("GET", f"/api/v1/integrations/tawkto/sessions/{tenant}")
        found = [s["conversation_id"] for s in sessions.json()["data"]]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert found == ["chat-1"]
    assert api.call("GET", f"/api/v1/integrations/tawkto/analytics/{tenant}").status == 200


def _render(answer: Any) -> str:
    return f"{answer.status}\n{json.dumps(answer.headers)}\n{answer.text}"
