"""Logging: JSON lines for structlog and stdlib alike, with secrets masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from adapters_observability.logging import configure_logging, get_logger
from adapters_observability.redaction import REDACTED, is_sensitive_key, redact, redact_text

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0ZW5hbnRfaWQiOiJ0MSJ9."
    "sig-nature_part0123456789abcdefghijk"
)
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave the process's logging as the test found it, for the tests that follow."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("sqlalchemy", "asyncio")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, quiet_level in quiet.items():
        logging.getLogger(name).setLevel(quiet_level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Any:
    configure_logging("debug")

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    return read


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "Authorization",
        "api_key",
        "apiKey",
        "password",
        "DB_PASSWORD",
        "jwt_secret",
        "X-Hub-Signature-256",
        "x-telegram-bot-api-secret-token",
        "webhook_secrets",
        "Cookie",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key", ["token_expires_at", "idempotency_key", "tenant_id", "event", "status", "key_id"]
)
def test_ordinary_keys(key: str) -> None:
    assert not is_sensitive_key(key)


def test_values_shaped_like_secrets_are_masked_inside_any_string() -> None:
    text = (
        f"auth=Bearer {JWT} raw={JWT} hook={WHSEC} "
        f"url=https://api.telegram.org/bot{BOT_TOKEN}/getMe db=postgresql://app:hunter2@db/x"
    )
    masked = redact_text(text)

    for secret in (JWT, WHSEC, BOT_TOKEN, "hunter2", "sig-nature"):
        assert secret not in masked
    assert "Bearer [REDACTED]" in masked
    assert "whsec_[REDACTED]" in masked
    assert "postgresql://app:[REDACTED]@db/x" in masked
    assert "https://api.telegram.org/bot[REDACTED]/getMe" in masked


IG_TOKEN = "IGAAQ7Zk1nLOgBZAFNsWjR0bV9hYmNkZWZnaGlqa2xtbm9w"
IG_LEGACY_TOKEN = "IGQVJXd2xYbm9NZAFZAmXzNRSUx2Ukh3"


@pytest.mark.parametrize("token", [IG_TOKEN, IG_LEGACY_TOKEN])
def test_instagram_login_tokens_are_masked(token: str) -> None:
    masked = redact_text(f"Instagram refused token {token}: (#190) invalid")

    assert token not in masked
    assert masked == f"Instagram refused token {REDACTED}: (#190) invalid"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("POST /setWebhook?url=https://h/x&secret_token=s3cr3t-Tok_en&max=40", "s3cr3t-Tok_en"),
        ("form secret_token=abcDEF0123 sent", "abcDEF0123"),
        ('body {"url": "https://h/x", "secret_token": "json-held-value"}', "json-held-value"),
        ("GET /oauth?client_secret=cs-value-1&fb_exchange_token=fbx-value-2", "cs-value-1"),
        ("GET /oauth?client_secret=cs-value-1&fb_exchange_token=fbx-value-2", "fbx-value-2"),
        ("GET /debug_token?input_token=it-value-3", "it-value-3"),
    ],
)
def test_credential_parameters_are_masked(text: str, secret: str) -> None:
    masked = redact_text(text)

    assert secret not in masked
    assert REDACTED in masked


def test_parameters_that_are_not_credentials_are_kept() -> None:
    text = "token_expires_at=2026-01-01 idempotency_key=order-7 key_id=k1 url=https://h/x"

    assert redact_text(text) == text


def test_a_logged_instagram_token_and_secret_token_never_reach_the_line(lines: Any) -> None:
    get_logger("integration_service.test").warning(
        "platform_refused",
        detail=f"token {IG_TOKEN} refused",
        request="setWebhook secret_token=abc123XYZ_-",
    )

    (line,) = lines()
    text = json.dumps(line)
    assert IG_TOKEN not in text
    assert "abc123XYZ_-" not in text
    assert line["request"] == f"setWebhook secret_token={REDACTED}"


def test_redact_walks_nested_structures() -> None:
    value = {
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "items": [{"password": "p"}, f"Bearer {JWT}"],
        "count": 3,
        "none_token": None,
    }

    assert redact(value) == {
        "headers": {"Authorization": REDACTED, "Accept": "json"},
        "items": [{"password": REDACTED}, f"Bearer {REDACTED}"],
        "count": 3,
        "none_token": None,
    }


def test_structlog_events_are_json_lines_with_secrets_redacted(lines: Any) -> None:
    get_logger("integration_service.test").info(
        "setup_done",
        access_token="EAAB-plain-token",
        nested={"config": {"App_Secret": "s3cr3t", "phone": "+1555"}},
        message=f"telegram said {BOT_TOKEN} and {WHSEC}",
    )

    (line,) = lines()
    assert line["event"] == "setup_done"
    assert line["level"] == "info"
    assert line["logger"] == "integration_service.test"
    assert line["timestamp"].endswith("Z")
    assert line["access_token"] == REDACTED
    assert line["nested"] == {"config": {"App_Secret": REDACTED, "phone": "+1555"}}
    assert BOT_TOKEN not in line["message"]
    assert WHSEC not in line["message"]


def test_stdlib_loggers_come_out_as_json_through_the_same_redaction(lines: Any) -> None:
    logging.getLogger("aiohttp.access").info("GET /x %s", f"Authorization: Bearer {JWT}")
    logging.getLogger("alembic.runtime.migration").warning("Running upgrade -> 0001")

    first, second = lines()
    assert first["logger"] == "aiohttp.access"
    assert first["level"] == "info"
    assert JWT not in first["event"]
    assert first["event"] == f"GET /x Authorization: Bearer {REDACTED}"
    assert second == {**second, "logger": "alembic.runtime.migration", "level": "warning"}


def fail(error: Exception) -> None:
    raise error


def test_tracebacks_are_logged_and_redacted(lines: Any) -> None:
    try:
        fail(RuntimeError(f"cannot connect to postgresql://u:topsecret@db/x with {BOT_TOKEN}"))
    except RuntimeError:
        get_logger("integration_service.test").exception("failed")
    try:
        fail(ValueError("stdlib side"))
    except ValueError:
        logging.getLogger("some.library").exception("library failed")

    ours, library = lines()
    assert "Traceback (most recent call last)" in ours["exception"]
    assert "RuntimeError" in ours["exception"]
    assert "topsecret" not in ours["exception"]
    assert BOT_TOKEN not in ours["exception"]
    assert "ValueError: stdlib side" in library["exception"]


def test_configuring_twice_installs_one_handler_and_applies_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info")
    configure_logging("warning")
    log = structlog.get_logger("integration_service.test")
    log.info("hidden")
    log.warning("shown")
    logging.getLogger("x").info("hidden too")

    output = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["event"] for line in output] == ["shown"]
    handlers = [h for h in logging.getLogger().handlers if h.formatter is not None]
    assert len([h for h in handlers if type(h).__name__ == "_StdHandler"]) == 1


def test_console_rendering_for_humans(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=False)
    get_logger("integration_service.test").info("hello", password="p4ss")

    output = capsys.readouterr().out
    assert "hello" in output
    assert "p4ss" not in output


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")
