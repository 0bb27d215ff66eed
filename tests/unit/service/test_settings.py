"""Settings.from_env: every variable, its default, and every problem reported at once."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_service.settings import CredentialStoreKind, Environment
from integration_service.settings.keys import decode_signing_secret

from .settings_support import KEY, PROD, SIGNING, load, problems_of

# --------------------------------------------------------------------------- defaults


def test_an_empty_environment_is_development_on_sqlite_in_the_working_directory(
    tmp_path: Path,
) -> None:
    settings = load({}, tmp_path)

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.log_level == "info"
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - asserting the documented default
    assert settings.server.port == 8080
    assert settings.server.base_url == "http://localhost:8080"
    assert settings.server.allowed_origins == ()
    assert settings.server.max_body_bytes == 1_048_576
    assert settings.database.url.reveal() == (
        f"sqlite+aiosqlite:///{tmp_path.resolve() / 'integration-service.db'}"
    )
    assert settings.database.sqlite_file == tmp_path.resolve() / "integration-service.db"
    assert settings.database.auto_migrate is True
    assert settings.security.jwt_expiry == timedelta(hours=24)
    assert settings.security.jwt_leeway_seconds == 0
    assert settings.security.credential_store is CredentialStoreKind.DATABASE
    assert settings.rate_limit.rps == 100
    assert settings.rate_limit.burst == 200
    assert settings.rate_limit.redis_url is None
    assert settings.messaging.service_url is None
    assert settings.messaging.retry_schedule == (
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        *(timedelta(hours=h) for h in (2, 5, 10, 14, 20, 24)),
    )
    assert settings.platforms.meta_graph_base_url == "https://graph.facebook.com"
    assert settings.platforms.meta_graph_version == "v26.0"
    assert settings.platforms.instagram_graph_base_url == "https://graph.instagram.com"
    assert settings.platforms.telegram_api_base_url == "https://api.telegram.org"
    assert settings.platforms.token_refresh_margin == timedelta(days=10)
    assert settings.mercadopago.api_base_url == "https://api.mercadopago.com"
    assert settings.mercadopago.webhook_tolerance_seconds == 0
    assert settings.vault.addr is None


def test_development_fills_missing_keys_from_the_key_file_and_says_so(tmp_path: Path) -> None:
    settings = load({}, tmp_path)

    assert settings.dev_keys is not None
    assert settings.dev_keys.path == tmp_path.resolve() / "integration-service.db.keys.json"
    assert settings.dev_keys.names == ("JWT_SECRET", "ENCRYPTION_KEY", "MESSAGING_SIGNING_SECRET")
    assert len(settings.security.encryption_keys[0]) == 32
    assert settings.messaging.signing_secret is not None
    decode_signing_secret(settings.messaging.signing_secret.reveal())
    assert any("DEVELOPMENT KEYS IN USE" in w for w in settings.warnings())
    again = load({}, tmp_path)
    assert again.security.jwt_secret == settings.security.jwt_secret
    assert again.security.encryption_key == settings.security.encryption_key


def test_development_only_fills_what_is_missing(tmp_path: Path) -> None:
    settings = load({"JWT_SECRET": "mine-" * 8}, tmp_path)

    assert settings.security.jwt_secret == Secret("mine-" * 8)
    assert settings.dev_keys is not None
    assert settings.dev_keys.names == ("ENCRYPTION_KEY", "MESSAGING_SIGNING_SECRET")


def test_a_fully_configured_development_uses_no_key_file(tmp_path: Path) -> None:
    env = {"JWT_SECRET": "x" * 40, "ENCRYPTION_KEY": KEY.hex(), "MESSAGING_SIGNING_SECRET": SIGNING}
    settings = load(env, tmp_path)

    assert settings.dev_keys is None
    assert not list(tmp_path.iterdir())
    assert not any("DEVELOPMENT KEYS" in w for w in settings.warnings())


# --------------------------------------------------------------------------- every variable


def test_every_variable_is_parsed(tmp_path: Path) -> None:
    env = {
        **PROD,
        "PORT": "9000",
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARN",
        "BASE_URL": "https://hooks.example.com/",
        "DATABASE_URL": "postgresql://u:p@db:5432/app",
        "AUTO_MIGRATE": "false",
        "MESSAGING_SERVICE_URL": "https://messaging.internal/events",
        "MESSAGING_SIGNING_SECRET": SIGNING,
        "JWT_EXPIRY": "30m",
        "JWT_LEEWAY_SECONDS": "5",
        "RATE_LIMIT_RPS": "2.5",
        "RATE_LIMIT_BURST": "7",
        "REDIS_URL": "redis://:pw@cache:6379/0",
        "CREDENTIAL_STORE": "vault",
        "VAULT_ADDR": "http://vault:8200",
        "VAULT_TOKEN": "hvs.vault-token",
        "ALLOWED_ORIGINS": "https://a.example.com, https://b.example.com/ ,",
        "ENCRYPTION_KEYS_PREVIOUS": f"{base64.b64encode(b'p' * 32).decode()},{'r' * 32}",
        "WEBHOOK_MAX_BODY_BYTES": "2048",
        "FORWARD_RETRY_SCHEDULE": "0s, 10s, 1h",
        "TOKEN_REFRESH_MARGIN": "36h",
        "MP_WEBHOOK_TOLERANCE_SECONDS": "300",
        "MP_ACCESS_TOKEN": "APP_USR-1",
        "MP_CLIENT_ID": "client-1",
        "MP_CLIENT_SECRET": "client-secret",
        "MP_ENVIRONMENT": "production",
        "MP_WEBHOOK_URL": "https://hooks.example.com/api/v1/webhooks/mercadopago",
        "MP_WEBHOOK_SECRET": "mp-new,mp-old",
        "MP_API_BASE_URL": "http://127.0.0.1:9999",
        "TAWKTO_API_KEY": "tawk-key",
        "TAWKTO_BASE_URL": "http://127.0.0.1:9998",
        "TAWKTO_WIDGET_ID": "w1",
        "TAWKTO_PROPERTY_ID": "p1",
        "META_GRAPH_BASE_URL": "http://127.0.0.1:9997",
        "META_GRAPH_VERSION": "v25.0",
        "META_APP_ID": "app-1",
        "INSTAGRAM_GRAPH_BASE_URL": "http://127.0.0.1:9996",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9995",
        "TRUST_PROXY_HEADERS": "yes",
    }
    for channel in ("WHATSAPP", "MESSENGER", "INSTAGRAM", "TELEGRAM", "WEBCHAT", "TAWKTO"):
        env[f"{channel}_VERIFY_TOKEN"] = f"{channel.lower()}-verify"
        env[f"{channel}_WEBHOOK_SECRET"] = f"{channel.lower()}-new, {channel.lower()}-old"

    settings = load(env, tmp_path)

    assert settings.environment is Environment.PRODUCTION
    assert settings.log_level == "warning"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 9000)
    assert settings.server.base_url == "https://hooks.example.com"
    assert settings.server.allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.server.max_body_bytes == 2048
    assert settings.server.trust_proxy_headers is True
    assert settings.database.url.reveal() == "postgresql+psycopg://u:p@db:5432/app"
    assert settings.database.auto_migrate is False
    assert settings.database.sqlite_file is None
    assert settings.messaging.service_url == "https://messaging.internal/events"
    assert settings.messaging.signing_secret == Secret(SIGNING)
    assert settings.messaging.retry_schedule == (
        timedelta(0),
        timedelta(seconds=10),
        timedelta(hours=1),
    )
    assert settings.security.jwt_secret == Secret(PROD["JWT_SECRET"])
    assert settings.security.jwt_expiry == timedelta(minutes=30)
    assert settings.security.jwt_leeway_seconds == 5
    assert settings.security.credential_store is CredentialStoreKind.VAULT
    assert settings.security.encryption_keys == (KEY, b"p" * 32, b"r" * 32)
    assert settings.rate_limit.rps == 2.5
    assert settings.rate_limit.burst == 7
    assert settings.rate_limit.redis_url == Secret("redis://:pw@cache:6379/0")
    assert settings.vault.addr == "http://vault:8200"
    assert settings.vault.token == Secret("hvs.vault-token")
    mp = settings.mercadopago
    assert mp.access_token == Secret("APP_USR-1")
    assert (mp.client_id, mp.environment) == ("client-1", "production")
    assert mp.client_secret == Secret("client-secret")
    assert mp.webhook_url == "https://hooks.example.com/api/v1/webhooks/mercadopago"
    assert mp.webhook_secrets == (Secret("mp-new"), Secret("mp-old"))
    assert mp.webhook_tolerance_seconds == 300
    assert mp.api_base_url == "http://127.0.0.1:9999"
    assert settings.tawkto.base_url == "http://127.0.0.1:9998"
    platforms = settings.platforms
    assert platforms.meta_graph_base_url == "http://127.0.0.1:9997"
    assert platforms.meta_graph_version == "v25.0"
    assert platforms.meta_app_id == "app-1"
    assert platforms.instagram_graph_base_url == "http://127.0.0.1:9996"
    assert platforms.telegram_api_base_url == "http://127.0.0.1:9995"
    assert platforms.token_refresh_margin == timedelta(hours=36)
    for channel in Channel:
        if channel is Channel.MERCADOPAGO:
            continue
        secrets_ = platforms.secrets_for(channel)
        # Only Meta has a verify-token handshake; the others' tokens are warned about below.
        expected = Secret(f"{channel.value}-verify") if channel.is_meta else None
        assert secrets_.verify_token == expected
        assert secrets_.webhook_secrets == (
            Secret(f"{channel.value}-new"),
            Secret(f"{channel.value}-old"),
        )
    assert settings.dev_keys is None
    assert not list(tmp_path.iterdir()), "production never writes a key file"
    # The original's variables that do nothing here, one warning each (test_original_variables).
    assert [w.split(" ")[0] for w in settings.warnings()] == [
        "TELEGRAM_VERIFY_TOKEN",
        "WEBCHAT_VERIFY_TOKEN",
        "TAWKTO_VERIFY_TOKEN",
        "TAWKTO_API_KEY",
        "TAWKTO_PROPERTY_ID",
        "TAWKTO_WIDGET_ID",
    ]


# --------------------------------------------------------------------------- database URL


def test_db_parts_build_a_quoted_psycopg_url(tmp_path: Path) -> None:
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_NAME": "my db",
        "DB_USER": "app@corp",
        "DB_PASSWORD": "p@ss:w/rd?#%",
        "DB_SSL_MODE": "verify-full",
    }
    url = load(env, tmp_path).database.url.reveal()

    assert url == (
        "postgresql+psycopg://app%40corp:p%40ss%3Aw%2Frd%3F%23%25@db.internal:6543/my%20db"
        "?sslmode=verify-full"
    )


def test_db_parts_have_defaults_and_an_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    url = load({"DB_HOST": "::1"}, tmp_path).database.url.reveal()

    assert url == "postgresql+psycopg://postgres@[::1]:5432/integration_service?sslmode=disable"


def test_database_url_wins_over_db_parts_and_says_so(tmp_path: Path) -> None:
    settings = load(
        {"DATABASE_URL": "postgres://u@h/d", "DB_HOST": "ignored", "DB_NAME": "x"}, tmp_path
    )

    assert settings.database.url.reveal() == "postgresql+psycopg://u@h/d"
    assert "DATABASE_URL is set, so DB_HOST, DB_NAME are ignored" in settings.warnings()


def test_a_database_url_with_another_driver_gets_ours(tmp_path: Path) -> None:
    settings = load({"DATABASE_URL": "postgresql+psycopg2://u@h/d?sslmode=require"}, tmp_path)

    assert settings.database.url.reveal() == "postgresql+psycopg://u@h/d?sslmode=require"


def test_an_sqlite_database_url_keeps_its_file_and_the_key_file_beside_it(
    tmp_path: Path,
) -> None:
    settings = load({"DATABASE_URL": "sqlite:///data/app.db"}, tmp_path)

    assert settings.database.url.reveal() == "sqlite+aiosqlite:///data/app.db"
    assert settings.database.sqlite_file == tmp_path.resolve() / "data" / "app.db"
    assert settings.dev_keys is not None
    assert settings.dev_keys.path == tmp_path.resolve() / "data" / "app.db.keys.json"


def test_an_sqlite_url_without_a_file_is_a_problem(tmp_path: Path) -> None:
    assert problems_of({"DATABASE_URL": "sqlite:////"}, tmp_path) == (
        "DATABASE_URL: names a directory, not an SQLite file",
    )


def test_a_postgres_development_keeps_keys_in_the_working_directory(tmp_path: Path) -> None:
    settings = load({"DATABASE_URL": "postgresql://u@h/d"}, tmp_path)

    assert settings.dev_keys is not None
    assert settings.dev_keys.path == tmp_path.resolve() / ".integration-service-keys.json"


def test_an_unsupported_database_url_is_a_problem_without_echoing_it(tmp_path: Path) -> None:
    problems = problems_of({"DATABASE_URL": "mysql://root:hunter2@db/app"}, tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith("DATABASE_URL:")
    assert "hunter2" not in problems[0]


# --------------------------------------------------------------------------- values


def test_booleans_lists_and_choices(tmp_path: Path) -> None:
    for text, expected in [("0", False), ("off", False), ("TRUE", True), ("1", True)]:
        assert load({"AUTO_MIGRATE": text}, tmp_path).database.auto_migrate is expected
    assert load({"ENVIRONMENT": "Dev"}, tmp_path).environment is Environment.DEVELOPMENT
    assert load({"ALLOWED_ORIGINS": "*"}, tmp_path).server.allowed_origins == ("*",)
    assert load({"ALLOWED_ORIGINS": " , "}, tmp_path).server.allowed_origins == ()
    assert load({"PORT": "  "}, tmp_path).server.port == 8080, "blank means unset"


def test_base_url_defaults_to_the_port(tmp_path: Path) -> None:
    assert load({"PORT": "9123"}, tmp_path).server.base_url == "http://localhost:9123"
