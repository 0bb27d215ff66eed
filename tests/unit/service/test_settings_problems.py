"""Settings.from_env refuses bad configurations whole, never shows a secret, and warns."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from integration_core.errors import ConfigurationError

from .settings_support import KEY, PROD, SIGNING, load, problems_of

# --------------------------------------------------------------------------- problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    env = {
        "PORT": "eighty",
        "JWT_EXPIRY": "forever",
        "ENCRYPTION_KEY": "too-short-secret-value",
        "RATE_LIMIT_BURST": "0",
    }
    problems = problems_of(env, tmp_path)

    assert [p.split(":")[0] for p in problems] == [
        "PORT",
        "ENCRYPTION_KEY",
        "JWT_EXPIRY",
        "RATE_LIMIT_BURST",
    ]
    assert "too-short-secret-value" not in " ".join(problems)
    assert not list(tmp_path.iterdir()), "no key file is written for a bad configuration"


def test_more_problems(tmp_path: Path) -> None:
    env = {
        "ENVIRONMENT": "staging",
        "LOG_LEVEL": "loud",
        "PORT": "70000",
        "DB_SSL_MODE": "sometimes",
        "RATE_LIMIT_RPS": "-1",
        "ALLOWED_ORIGINS": "example.com",
        "MESSAGING_SERVICE_URL": "ftp://x",
        "FORWARD_RETRY_SCHEDULE": "0s,,5s",
        "META_GRAPH_VERSION": "26",
        "CREDENTIAL_STORE": "vault",
        "REDIS_URL": "http://cache",
        "ENCRYPTION_KEYS_PREVIOUS": f"{KEY.hex()},nope",
        "WEBHOOK_MAX_BODY_BYTES": "0",
        "TOKEN_REFRESH_MARGIN": "-1d",
        "MP_ENVIRONMENT": "moon",
        "AUTO_MIGRATE": "maybe",
    }
    names = {p.split(":")[0] for p in problems_of(env, tmp_path)}

    assert names == {
        "ENVIRONMENT",
        "LOG_LEVEL",
        "PORT",
        "DB_SSL_MODE",
        "RATE_LIMIT_RPS",
        "ALLOWED_ORIGINS",
        "MESSAGING_SERVICE_URL",
        "FORWARD_RETRY_SCHEDULE",
        "META_GRAPH_VERSION",
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "REDIS_URL",
        "ENCRYPTION_KEYS_PREVIOUS (item 2)",
        "WEBHOOK_MAX_BODY_BYTES",
        "TOKEN_REFRESH_MARGIN",
        "MP_ENVIRONMENT",
        "AUTO_MIGRATE",
    }


@pytest.mark.parametrize("environment", ["production", "prod", "PRODUCTION"])
def test_production_refuses_to_start_without_secrets(tmp_path: Path, environment: str) -> None:
    problems = problems_of({"ENVIRONMENT": environment}, tmp_path)

    assert [p.split(":")[0] for p in problems] == ["JWT_SECRET", "ENCRYPTION_KEY"]
    assert not list(tmp_path.iterdir()), "production never generates keys"


def test_production_needs_a_signing_secret_only_with_a_messaging_service(
    tmp_path: Path,
) -> None:
    assert load(PROD, tmp_path).messaging.signing_secret is None
    problems = problems_of({**PROD, "MESSAGING_SERVICE_URL": "https://m.example.com"}, tmp_path)
    assert problems == (
        "MESSAGING_SIGNING_SECRET: required when ENVIRONMENT=production (never generated)",
    )


def test_no_secret_value_ever_appears_in_errors_or_repr(tmp_path: Path) -> None:
    values = {
        "JWT_SECRET": "jwt-" + secrets.token_hex(16),
        "DB_PASSWORD": "dbpw-" + secrets.token_hex(8),
        "VAULT_TOKEN": "vault-" + secrets.token_hex(8),
        "MP_ACCESS_TOKEN": "mpat-" + secrets.token_hex(8),
        "MP_CLIENT_SECRET": "mpcs-" + secrets.token_hex(8),
        "TAWKTO_API_KEY": "tawk-" + secrets.token_hex(8),
        "WHATSAPP_WEBHOOK_SECRET": "wa-" + secrets.token_hex(8),
        "TELEGRAM_VERIFY_TOKEN": "tgv-" + secrets.token_hex(8),
        "MP_WEBHOOK_SECRET": "mpws-" + secrets.token_hex(8),
    }
    good = {
        **values,
        "DB_HOST": "db",
        "ENCRYPTION_KEY": KEY.hex(),
        "MESSAGING_SIGNING_SECRET": SIGNING,
        "REDIS_URL": "redis://:redispw-1234@cache",
    }
    settings = load(good, tmp_path)
    shown = repr(settings) + str(settings) + "\n".join(settings.warnings())
    for value in [*values.values(), KEY.hex(), SIGNING, "redispw-1234"]:
        assert value not in shown

    bad = {
        **values,
        "ENVIRONMENT": "production",
        "ENCRYPTION_KEY": "not-a-key-" + secrets.token_hex(4),
        "ENCRYPTION_KEYS_PREVIOUS": "old-not-a-key-" + secrets.token_hex(4),
        "MESSAGING_SIGNING_SECRET": "whsec_!!" + secrets.token_hex(4),
        "MESSAGING_SERVICE_URL": "https://m.example.com",
        "DATABASE_URL": "oracle://u:dbpw-oracle@h/d",
        "VAULT_ADDR": "vault:8200-with-token-" + secrets.token_hex(4),
    }
    with pytest.raises(ConfigurationError) as caught:
        load(bad, tmp_path)
    text = str(caught.value) + "\n".join(caught.value.problems) + repr(caught.value)
    for value in [*bad.values()]:
        if value not in ("production", "https://m.example.com"):
            assert value not in text
    assert "dbpw-oracle" not in text


def test_settings_never_read_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "PORT", "1234")

    assert load({}, tmp_path).server.port == 8080


# --------------------------------------------------------------------------- warnings


def test_warnings_name_each_platform_that_fails_closed(tmp_path: Path) -> None:
    warnings = load({"WHATSAPP_WEBHOOK_SECRET": "s"}, tmp_path).warnings()
    closed = [w for w in warnings if "fail closed" in w]

    assert [w.split(" ")[0] for w in closed] == [
        "MESSENGER_WEBHOOK_SECRET",
        "INSTAGRAM_WEBHOOK_SECRET",
        "TAWKTO_WEBHOOK_SECRET",
        "MP_WEBHOOK_SECRET",
    ]
    assert "rejects all its webhooks (fail closed)" in closed[0]


def test_production_warnings(tmp_path: Path) -> None:
    warnings = load({**PROD, "JWT_SECRET": "short", "ALLOWED_ORIGINS": "*"}, tmp_path).warnings()

    assert any(w.startswith("ENVIRONMENT=production on SQLite") for w in warnings)
    assert any(w.startswith("BASE_URL is not set") for w in warnings)
    assert any(w.startswith("JWT_SECRET is shorter than 32 bytes") for w in warnings)
    assert any(w.startswith("ALLOWED_ORIGINS contains '*'") for w in warnings)
    assert any(w.startswith("MESSAGING_SERVICE_URL is not set") for w in warnings)


def test_db_parts_without_a_host_are_ignored_with_a_warning(tmp_path: Path) -> None:
    settings = load({"DB_NAME": "app", "DB_PASSWORD": "pw-value"}, tmp_path)

    assert settings.database.is_sqlite
    assert "DB_HOST is not set, so DB_NAME, DB_PASSWORD are ignored (SQLite)" in (
        settings.warnings()
    )
