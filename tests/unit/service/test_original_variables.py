"""The original service's configuration: its defaults, and every one of its variables either
does what it did or is named by exactly one start-up warning (issue 11)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_service.settings import CredentialStoreKind, Environment, Settings

from .settings_support import PROD, SIGNING, load, problems_of

# CONTRACT section 2: every variable of the original service, in its order (it names
# TAWKTO_WEBHOOK_SECRET twice; the duplicate is dropped).
_CHANNELS = ("WHATSAPP", "MESSENGER", "INSTAGRAM", "TELEGRAM", "WEBCHAT", "TAWKTO")
_LISTED = (
    "ENVIRONMENT PORT LOG_LEVEL BASE_URL DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD "
    "DB_SSL_MODE MESSAGING_SERVICE_URL JWT_SECRET JWT_EXPIRY RATE_LIMIT_RPS RATE_LIMIT_BURST "
    "VAULT_ADDR VAULT_TOKEN ALLOWED_ORIGINS "
    + " ".join(f"{c}_VERIFY_TOKEN" for c in _CHANNELS)
    + " "
    + " ".join(f"{c}_WEBHOOK_SECRET" for c in _CHANNELS)
    + " ENCRYPTION_KEY MP_ACCESS_TOKEN MP_CLIENT_ID MP_CLIENT_SECRET MP_ENVIRONMENT "
    "MP_WEBHOOK_URL MP_WEBHOOK_SECRET TAWKTO_API_KEY TAWKTO_BASE_URL TAWKTO_WEBHOOK_SECRET "
    "TAWKTO_WIDGET_ID TAWKTO_PROPERTY_ID"
)
ORIGINAL = tuple(dict.fromkeys(_LISTED.split()))

# A production configuration with nothing optional set (what each case adds to).
BASE = {**PROD, "BASE_URL": "https://hooks.example.com"}

Check = Callable[[Settings], bool]


def _secret_of(channel: Channel) -> Check:
    return lambda s: s.platforms.secrets_for(channel).webhook_secrets == (Secret("s1"),)


def _verify_token_of(channel: Channel) -> Check:
    return lambda s: s.platforms.verify_tokens.get(channel) == (Secret("v1"),)


# What each variable that keeps the original's meaning changes: (value, extra env, check).
HONOURED: dict[str, tuple[str, Mapping[str, str], Check]] = {
    "ENVIRONMENT": (
        "development",
        {"MESSAGING_SIGNING_SECRET": SIGNING},
        lambda s: s.environment is Environment.DEVELOPMENT,
    ),
    "PORT": ("9090", {}, lambda s: s.server.port == 9090),
    "LOG_LEVEL": ("debug", {}, lambda s: s.log_level == "debug"),
    "BASE_URL": ("https://other.example.com", {}, lambda s: "other" in s.server.base_url),
    "DB_HOST": ("db.internal", {}, lambda s: "@db.internal:5432/" in s.database.url.reveal()),
    "DB_PORT": ("6543", {"DB_HOST": "db"}, lambda s: "@db:6543/" in s.database.url.reveal()),
    "DB_NAME": ("app", {"DB_HOST": "db"}, lambda s: "/app?" in s.database.url.reveal()),
    "DB_USER": ("svc", {"DB_HOST": "db"}, lambda s: "//svc@" in s.database.url.reveal()),
    "DB_PASSWORD": ("pw", {"DB_HOST": "db"}, lambda s: ":pw@" in s.database.url.reveal()),
    "DB_SSL_MODE": ("require", {"DB_HOST": "db"}, lambda s: "require" in s.database.url.reveal()),
    "MESSAGING_SERVICE_URL": (
        "https://messaging.example.com/events",
        {"MESSAGING_SIGNING_SECRET": SIGNING},
        lambda s: s.messaging.service_url == "https://messaging.example.com/events",
    ),
    "JWT_SECRET": (
        "another-production-jwt-secret-long-enough",
        {},
        lambda s: s.security.jwt_secret == Secret("another-production-jwt-secret-long-enough"),
    ),
    "JWT_EXPIRY": ("2h", {}, lambda s: s.security.jwt_expiry == timedelta(hours=2)),
    "RATE_LIMIT_RPS": ("7", {}, lambda s: s.rate_limit.rps == 7),
    "RATE_LIMIT_BURST": ("9", {}, lambda s: s.rate_limit.burst == 9),
    "VAULT_ADDR": (
        "http://vault:8200",
        {"VAULT_TOKEN": "t"},
        lambda s: s.security.credential_store is CredentialStoreKind.VAULT,
    ),
    "VAULT_TOKEN": (
        "t",
        {"VAULT_ADDR": "http://vault:8200"},
        lambda s: s.vault.token == Secret("t"),
    ),
    "ALLOWED_ORIGINS": (
        "https://shop.example.com",
        {},
        lambda s: s.server.allowed_origins == ("https://shop.example.com",),
    ),
    **{
        f"{channel.name}_VERIFY_TOKEN": ("v1", {}, _verify_token_of(channel))
        for channel in (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM)
    },
    **{
        f"{channel.name}_WEBHOOK_SECRET": ("s1", {}, _secret_of(channel))
        for channel in (
            Channel.WHATSAPP,
            Channel.MESSENGER,
            Channel.INSTAGRAM,
            Channel.TELEGRAM,
            Channel.WEBCHAT,
            Channel.TAWKTO,
        )
    },
    "ENCRYPTION_KEY": ("k" * 32, {}, lambda s: s.security.encryption_keys[0] == b"k" * 32),
    "MP_ACCESS_TOKEN": ("APP_USR-1", {}, lambda s: s.mercadopago.access_token is not None),
    "MP_CLIENT_ID": ("c1", {}, lambda s: s.mercadopago.client_id == "c1"),
    "MP_CLIENT_SECRET": ("cs", {}, lambda s: s.mercadopago.client_secret == Secret("cs")),
    "MP_ENVIRONMENT": (
        "sandbox",
        {"ENVIRONMENT": "development", "MESSAGING_SIGNING_SECRET": SIGNING},
        lambda s: s.mercadopago.environment == "sandbox",
    ),
    "MP_WEBHOOK_URL": (
        "https://pay.example.com/n",
        {},
        lambda s: s.mercadopago.webhook_url == "https://pay.example.com/n",
    ),
    "MP_WEBHOOK_SECRET": ("m1", {}, lambda s: s.mercadopago.webhook_secrets == (Secret("m1"),)),
    "TAWKTO_BASE_URL": (
        "https://api.tawk.to",
        {},
        lambda s: s.tawkto.base_url == "https://api.tawk.to",
    ),
}

# Variables the original read that have no effect here: each is named by one warning.
WARNED = (
    "TELEGRAM_VERIFY_TOKEN",
    "WEBCHAT_VERIFY_TOKEN",
    "TAWKTO_VERIFY_TOKEN",
    "TAWKTO_API_KEY",
    "TAWKTO_WIDGET_ID",
    "TAWKTO_PROPERTY_ID",
)


def naming(name: str, warnings: tuple[str, ...]) -> list[str]:
    """Return the warnings that name the variable *name* (as a whole word)."""
    return [w for w in warnings if re.search(rf"(?<![A-Z_]){name}(?![A-Z_])", w)]


def test_the_tables_cover_every_variable_of_the_original_once() -> None:
    assert sorted([*HONOURED, *WARNED]) == sorted(ORIGINAL)
    assert len(ORIGINAL) == 41


@pytest.mark.parametrize("name", sorted(HONOURED))
def test_a_variable_of_the_original_does_what_it_did(name: str, tmp_path: Path) -> None:
    value, extra, check = HONOURED[name]
    with_it = load({**BASE, **extra, name: value}, tmp_path)

    assert check(with_it)
    try:
        without = load({**BASE, **extra}, tmp_path)
    except ConfigurationError:
        return  # needed: refused without it (VAULT_TOKEN beside VAULT_ADDR)
    assert not check(without), f"{name} changes nothing the check sees"


@pytest.mark.parametrize("name", WARNED)
def test_a_variable_without_effect_is_named_by_exactly_one_warning(
    name: str, tmp_path: Path
) -> None:
    without = load(BASE, tmp_path)
    with_it = load({**BASE, name: "set-by-an-operator"}, tmp_path)

    assert len(naming(name, with_it.warnings())) == 1
    assert "has no effect" in naming(name, with_it.warnings())[0]
    assert naming(name, without.warnings()) == []
    # Nothing else changes: the warning tells the whole truth.
    assert attrs.evolve(with_it, notes=()) == attrs.evolve(without, notes=())


def test_the_original_example_configuration_warns_once_per_ignored_variable(
    tmp_path: Path,
) -> None:
    """Everything set at once, as the original's example does: still one warning each."""
    env = {**BASE, "ENVIRONMENT": "production", "MESSAGING_SIGNING_SECRET": SIGNING}
    for name in ORIGINAL:
        if name in WARNED:
            env[name] = "example"
        elif name not in env:
            value, extra, _ = HONOURED[name]
            env.update({name: value, **{k: v for k, v in extra.items() if k not in env}})
    env["ENVIRONMENT"] = "production"
    env["MP_ENVIRONMENT"] = "production"
    settings = load(env, tmp_path)

    for name in WARNED:
        assert len(naming(name, settings.warnings())) == 1, name


# --------------------------------------------------------------------------- Mercado Pago


def test_mercado_pago_defaults_to_production(tmp_path: Path) -> None:
    assert load({}, tmp_path).mercadopago.environment == "production"
    assert load(BASE, tmp_path).mercadopago.environment == "production"


def test_sandbox_in_production_is_one_warning(tmp_path: Path) -> None:
    warnings = load({**BASE, "MP_ENVIRONMENT": "sandbox"}, tmp_path).warnings()

    assert naming("MP_ENVIRONMENT", warnings) == [
        "MP_ENVIRONMENT=sandbox with ENVIRONMENT=production: checkout links go to Mercado "
        "Pago's test checkout, where buyers cannot really pay; set MP_ENVIRONMENT=production"
    ]


def test_development_may_keep_sandbox_without_a_warning(tmp_path: Path) -> None:
    settings = load({"MP_ENVIRONMENT": "test"}, tmp_path)

    assert settings.mercadopago.environment == "sandbox"
    assert naming("MP_ENVIRONMENT", settings.warnings()) == []


# --------------------------------------------------------------------------- rate limits


def test_rate_limits_default_to_the_originals_100_and_200(tmp_path: Path) -> None:
    limits = load({}, tmp_path).rate_limit

    assert (limits.rps, limits.burst) == (100, 200)
    assert (limits.tenant_rps, limits.tenant_burst) == (100, 200)


# --------------------------------------------------------------------------- credential store


def test_vault_addr_alone_keeps_credentials_in_vault(tmp_path: Path) -> None:
    settings = load({**BASE, "VAULT_ADDR": "http://vault:8200", "VAULT_TOKEN": "t"}, tmp_path)

    assert settings.security.credential_store is CredentialStoreKind.VAULT
    assert settings.security.credential_store_chosen_by == "VAULT_ADDR"
    assert settings.summary()["credential_store"] == "vault"
    assert naming("VAULT_ADDR", settings.warnings()) == []


def test_an_explicit_database_store_wins_over_vault_addr_and_says_so(tmp_path: Path) -> None:
    env = {
        **BASE,
        "CREDENTIAL_STORE": "database",
        "VAULT_ADDR": "http://vault:8200",
        "VAULT_TOKEN": "t",
    }
    settings = load(env, tmp_path)

    assert settings.security.credential_store is CredentialStoreKind.DATABASE
    assert settings.security.credential_store_chosen_by == "CREDENTIAL_STORE"
    assert naming("VAULT_ADDR", settings.warnings()) == [
        "VAULT_ADDR and VAULT_TOKEN are set but have no effect: CREDENTIAL_STORE=database, so "
        "credentials are kept encrypted in the database"
    ]


def test_a_vault_token_without_an_address_is_one_warning(tmp_path: Path) -> None:
    settings = load({**BASE, "VAULT_TOKEN": "t"}, tmp_path)

    assert settings.security.credential_store is CredentialStoreKind.DATABASE
    assert settings.security.credential_store_chosen_by == "default"
    assert len(naming("VAULT_TOKEN", settings.warnings())) == 1


def test_vault_addr_without_a_token_is_refused_with_the_way_out(tmp_path: Path) -> None:
    problems = problems_of({**BASE, "VAULT_ADDR": "http://vault:8200"}, tmp_path)

    assert problems == (
        "VAULT_TOKEN: required when credentials are kept in Vault (the default when VAULT_ADDR "
        "is set; CREDENTIAL_STORE=database keeps them in the database)",
    )


def test_summary_shows_the_choices_and_no_secret(tmp_path: Path) -> None:
    env = {**BASE, "VAULT_ADDR": "http://vault:8200", "VAULT_TOKEN": "hvs.secret-token"}
    summary = load(env, tmp_path).summary()

    assert summary == {
        "environment": "production",
        "credential_store": "vault",
        "credential_store_chosen_by": "VAULT_ADDR",
        "mercadopago_environment": "production",
    }
