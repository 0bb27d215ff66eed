"""Read each settings section from the environment (see :meth:`Settings.from_env`).

One function per section keeps :mod:`integration_service.settings` short; each records problems
on the shared :class:`EnvReader` rather than raising, so every mistake is reported at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from integration_core.channels import MESSAGING_CHANNELS, Channel
from integration_core.credentials import Secret
from integration_service import database_url
from integration_service.env import EnvReader
from integration_service.sections import (
    ChannelSecrets,
    CredentialStoreKind,
    DatabaseSettings,
    MercadoPagoSettings,
    PlatformSettings,
    RateLimitSettings,
    ServerSettings,
    TawktoSettings,
    VaultSettings,
)

_CREDENTIAL_STORES = {kind.value: kind for kind in CredentialStoreKind}
_DB_PARTS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSL_MODE")
_GRAPH_VERSION = re.compile(r"v\d+\.\d+")
# Why a verify token of a channel without Meta's subscription handshake does nothing.
_NO_HANDSHAKE: dict[Channel, str] = {
    Channel.TELEGRAM: "Telegram has no verification handshake; each Telegram integration "
    "gets its own secret token at setup (X-Telegram-Bot-Api-Secret-Token)",
    Channel.WEBCHAT: "webchat has no verification handshake; deliveries are signed with "
    "WEBCHAT_WEBHOOK_SECRET or each integration's own signing secret",
    Channel.TAWKTO: "Tawk.to has no verification handshake; deliveries are signed with "
    "TAWKTO_WEBHOOK_SECRET or each integration's own webhook_secret",
}
# The original's platform-wide Tawk.to account variables, and the setup field that replaced each.
_TAWKTO_ACCOUNT = {
    "TAWKTO_API_KEY": "api_key",
    "TAWKTO_PROPERTY_ID": "property_id",
    "TAWKTO_WIDGET_ID": "widget_id",
}
_MP_ENVIRONMENTS = {
    "sandbox": "sandbox",
    "test": "sandbox",
    "production": "production",
    "prod": "production",
    "live": "production",
}


def read_server(reader: EnvReader) -> ServerSettings:
    """Read ``HOST``, ``PORT``, ``BASE_URL``, ``ALLOWED_ORIGINS`` and the body limit."""
    defaults = ServerSettings()
    port = reader.integer("PORT", defaults.port, minimum=1, maximum=65535)
    base_url = reader.url("BASE_URL")
    origins = reader.items("ALLOWED_ORIGINS")
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc):
            reader.problem(
                "ALLOWED_ORIGINS", f"{origin!r} is not an origin like https://app.example.com or *"
            )
    return ServerSettings(
        host=reader.text("HOST", defaults.host) or defaults.host,
        port=port,
        base_url=base_url or f"http://localhost:{port}",
        base_url_set=base_url is not None,
        allowed_origins=tuple(origin.rstrip("/") for origin in origins),
        max_body_bytes=reader.integer("WEBHOOK_MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1),
        trust_proxy_headers=reader.boolean("TRUST_PROXY_HEADERS", defaults.trust_proxy_headers),
        shutdown_timeout=reader.duration("SHUTDOWN_TIMEOUT", defaults.shutdown_timeout),
    )


def read_database(reader: EnvReader, base: Path, notes: list[str]) -> DatabaseSettings:
    """Read ``DATABASE_URL``, else ``DB_*`` (with ``DB_HOST``), else an SQLite file in *base*."""
    auto_migrate = reader.boolean("AUTO_MIGRATE", True)
    ssl_mode = reader.choice(
        "DB_SSL_MODE", "disable", {mode: mode for mode in database_url.SSL_MODES}
    )
    port = reader.integer("DB_PORT", 5432, minimum=1, maximum=65535)
    given_parts = [name for name in _DB_PARTS if reader.is_set(name)]
    raw_url = reader.text("DATABASE_URL")
    if raw_url is not None:
        if given_parts:
            notes.append(f"DATABASE_URL is set, so {', '.join(given_parts)} are ignored")
        try:
            url = database_url.normalize_url(raw_url)
        except database_url.InvalidDatabaseUrl as exc:
            reader.problem("DATABASE_URL", str(exc))
            url = database_url.sqlite_url(base / database_url.DEFAULT_SQLITE_FILE)
    elif reader.is_set("DB_HOST"):
        password = reader.secret("DB_PASSWORD")
        url = database_url.postgres_url(
            host=reader.text("DB_HOST") or "",
            port=port,
            name=reader.text("DB_NAME", "integration_service") or "",
            user=reader.text("DB_USER", "postgres") or "",
            password=password.reveal() if password else None,
            ssl_mode=ssl_mode,
        )
    else:
        if given_parts:
            notes.append(f"DB_HOST is not set, so {', '.join(given_parts)} are ignored (SQLite)")
        url = database_url.sqlite_url(base / database_url.DEFAULT_SQLITE_FILE)
    sqlite_file = database_url.sqlite_path(url)
    if sqlite_file is not None and not sqlite_file.name:
        reader.problem("DATABASE_URL", "names a directory, not an SQLite file")
        sqlite_file = None
    elif sqlite_file is not None and not sqlite_file.is_absolute():
        sqlite_file = base / sqlite_file
    return DatabaseSettings(url=Secret(url), auto_migrate=auto_migrate, sqlite_file=sqlite_file)


def read_platforms(reader: EnvReader, notes: list[str]) -> PlatformSettings:
    """Read each channel's ``*_VERIFY_TOKEN``/``*_WEBHOOK_SECRET`` and the platform API roots.

    Only Meta has a subscription handshake, so a verify token of another channel (the original
    service read one per channel) is noted in *notes* as having no effect.
    """
    defaults = PlatformSettings()
    for channel in MESSAGING_CHANNELS:
        name = f"{channel.name}_VERIFY_TOKEN"
        if not channel.is_meta and reader.is_set(name):
            notes.append(f"{name} is set but has no effect: {_NO_HANDSHAKE[channel]}")
    version = reader.text("META_GRAPH_VERSION", defaults.meta_graph_version)
    if version is not None and not _GRAPH_VERSION.fullmatch(version):
        reader.problem("META_GRAPH_VERSION", f"{version!r} is not a version like v26.0")
    return PlatformSettings(
        channels={
            channel: ChannelSecrets(
                verify_token=reader.secret(f"{channel.name}_VERIFY_TOKEN")
                if channel.is_meta
                else None,
                webhook_secrets=reader.secrets(f"{channel.name}_WEBHOOK_SECRET"),
            )
            for channel in MESSAGING_CHANNELS
        },
        meta_graph_base_url=_url(reader, "META_GRAPH_BASE_URL", defaults.meta_graph_base_url),
        meta_graph_version=version or defaults.meta_graph_version,
        meta_app_id=reader.text("META_APP_ID"),
        instagram_graph_base_url=_url(
            reader, "INSTAGRAM_GRAPH_BASE_URL", defaults.instagram_graph_base_url
        ),
        telegram_api_base_url=_url(reader, "TELEGRAM_API_BASE_URL", defaults.telegram_api_base_url),
        token_refresh_margin=reader.duration("TOKEN_REFRESH_MARGIN", defaults.token_refresh_margin),
    )


def read_tawkto(reader: EnvReader, notes: list[str]) -> TawktoSettings:
    """Read ``TAWKTO_BASE_URL``; note the original's account variables, which have no effect.

    The original service had one Tawk.to account for every tenant. Here each tenant connects
    its own (``POST /api/v1/integrations/tawkto/setup`` carries ``api_key``, ``property_id``
    and ``widget_id``), and a platform-wide account would let one tenant's routes read another
    tenant's chats, so these variables are not used as a fallback.
    """
    for name, field in _TAWKTO_ACCOUNT.items():
        if reader.is_set(name):
            notes.append(
                f"{name} is set but has no effect: each tenant's Tawk.to integration carries "
                f"its own {field} (POST /api/v1/integrations/tawkto/setup)"
            )
    return TawktoSettings(base_url=_url(reader, "TAWKTO_BASE_URL", TawktoSettings().base_url))


def read_mercadopago(reader: EnvReader) -> MercadoPagoSettings:
    """Read our Mercado Pago account and notification settings (``MP_*``)."""
    defaults = MercadoPagoSettings()
    return MercadoPagoSettings(
        access_token=reader.secret("MP_ACCESS_TOKEN"),
        client_id=reader.text("MP_CLIENT_ID"),
        client_secret=reader.secret("MP_CLIENT_SECRET"),
        environment=reader.choice("MP_ENVIRONMENT", defaults.environment, _MP_ENVIRONMENTS),
        webhook_url=reader.url("MP_WEBHOOK_URL"),
        webhook_secrets=reader.secrets("MP_WEBHOOK_SECRET"),
        webhook_tolerance_seconds=reader.integer(
            "MP_WEBHOOK_TOLERANCE_SECONDS", defaults.webhook_tolerance_seconds, minimum=0
        ),
        api_base_url=_url(reader, "MP_API_BASE_URL", defaults.api_base_url),
        ipn_enabled=reader.boolean("MP_IPN_ENABLED", defaults.ipn_enabled),
        ipn_window=reader.duration("MP_IPN_WINDOW", defaults.ipn_window, positive=True),
    )


def read_credential_store(reader: EnvReader) -> tuple[CredentialStoreKind, str]:
    """Return where credentials are kept and which variable chose it.

    ``CREDENTIAL_STORE`` wins when set; otherwise ``VAULT_ADDR`` alone means Vault, as it did in
    the original service (which had no ``CREDENTIAL_STORE``); otherwise the database.
    """
    if reader.is_set("CREDENTIAL_STORE"):
        kind = reader.choice("CREDENTIAL_STORE", CredentialStoreKind.DATABASE, _CREDENTIAL_STORES)
        return kind, "CREDENTIAL_STORE"
    if reader.is_set("VAULT_ADDR"):
        return CredentialStoreKind.VAULT, "VAULT_ADDR"
    return CredentialStoreKind.DATABASE, "default"


def read_vault(
    reader: EnvReader, store: CredentialStoreKind, chosen_by: str, notes: list[str]
) -> VaultSettings:
    """Read ``VAULT_ADDR``/``VAULT_TOKEN``; both are required when *store* is Vault.

    Given while credentials stay in the database, they have no effect, and *notes* says so.
    """
    vault = VaultSettings(addr=reader.url("VAULT_ADDR"), token=reader.secret("VAULT_TOKEN"))
    if store is CredentialStoreKind.VAULT:
        why = (
            "CREDENTIAL_STORE=vault"
            if chosen_by == "CREDENTIAL_STORE"
            else "credentials are kept in Vault (the default when VAULT_ADDR is set; "
            "CREDENTIAL_STORE=database keeps them in the database)"
        )
        for name in ("VAULT_ADDR", "VAULT_TOKEN"):
            if not reader.is_set(name):
                reader.problem(name, f"required when {why}")
        return vault
    given = [name for name in ("VAULT_ADDR", "VAULT_TOKEN") if reader.is_set(name)]
    if given:
        cause = "CREDENTIAL_STORE=database" if chosen_by == "CREDENTIAL_STORE" else "no VAULT_ADDR"
        notes.append(
            f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} set but "
            f"{'have' if len(given) > 1 else 'has'} no effect: {cause}, so credentials are "
            "kept encrypted in the database"
        )
    return vault


def read_rate_limit(reader: EnvReader) -> RateLimitSettings:
    """Read ``RATE_LIMIT_*`` (per IP, per tenant, per webhook channel) and ``REDIS_URL``."""
    defaults = RateLimitSettings()
    redis_url = reader.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
    rps = reader.number("RATE_LIMIT_RPS", defaults.rps)
    burst = reader.integer("RATE_LIMIT_BURST", defaults.burst, minimum=1)
    return RateLimitSettings(
        rps=rps,
        burst=burst,
        tenant_rps=reader.number("RATE_LIMIT_TENANT_RPS", rps),
        tenant_burst=reader.integer("RATE_LIMIT_TENANT_BURST", burst, minimum=1),
        webhook_rps=reader.number("RATE_LIMIT_WEBHOOK_RPS", defaults.webhook_rps),
        webhook_burst=reader.integer("RATE_LIMIT_WEBHOOK_BURST", defaults.webhook_burst, minimum=1),
        redis_url=Secret(redis_url) if redis_url else None,
    )


def _url(reader: EnvReader, name: str, default: str) -> str:
    return reader.url(name, default) or default
