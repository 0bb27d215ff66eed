"""The service's configuration: every environment variable, parsed and validated in one place.

:meth:`Settings.from_env` reads a mapping (never ``os.environ`` directly, so tests pass plain
dicts) section by section, each section reading itself (:mod:`.sections`, :mod:`.platforms`),
reports every problem at once in one :class:`ConfigurationError`, and in development fills
missing keys from the development key file (:mod:`.keys`). :meth:`Settings.warnings` lists what
an operator must hear at start-up: each one line, safe to log (names and paths, never secret
values); the first, about development keys, is deliberately loud.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_service.settings import keys
from integration_service.settings.env import EnvReader, format_duration
from integration_service.settings.platforms import (
    ChannelSecrets,
    MercadoPagoSettings,
    PlatformSettings,
    TawktoSettings,
    VaultSettings,
)
from integration_service.settings.sections import (
    DEFAULT_RETRY_SCHEDULE,
    PENDING,
    CredentialStoreKind,
    DatabaseSettings,
    DevKeys,
    Environment,
    MessagingSettings,
    RateLimitSettings,
    RotationSettings,
    SecuritySettings,
    ServerSettings,
)

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "ChannelSecrets",
    "CredentialStoreKind",
    "DatabaseSettings",
    "DevKeys",
    "Environment",
    "MercadoPagoSettings",
    "MessagingSettings",
    "PlatformSettings",
    "RateLimitSettings",
    "RotationSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "TawktoSettings",
    "VaultSettings",
]

_LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "critical": "critical",
}
# Channels whose webhooks verify with the global secret, or with a secret the integration may
# carry; Telegram and webchat always verify with the integration's own generated secret.
_GLOBAL_SECRET_CHANNELS: dict[Channel, str] = {
    Channel.WHATSAPP: "app_secret",
    Channel.MESSENGER: "app_secret",
    Channel.INSTAGRAM: "app_secret",
    Channel.TAWKTO: "webhook_secret",
}
_MIN_JWT_SECRET_BYTES = 32


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the composition root needs, grouped by concern; secrets never print."""

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "info"
    server: ServerSettings = attrs.field(factory=ServerSettings)
    database: DatabaseSettings
    security: SecuritySettings
    messaging: MessagingSettings = attrs.field(factory=MessagingSettings)
    platforms: PlatformSettings = attrs.field(factory=PlatformSettings)
    tawkto: TawktoSettings = attrs.field(factory=TawktoSettings)
    mercadopago: MercadoPagoSettings = attrs.field(factory=MercadoPagoSettings)
    vault: VaultSettings = attrs.field(factory=VaultSettings)
    rate_limit: RateLimitSettings = attrs.field(factory=RateLimitSettings)
    rotation: RotationSettings = attrs.field(factory=RotationSettings)
    dev_keys: DevKeys | None = None
    """Set when development keys stand in for unset secrets (a loud start-up warning)."""
    notes: tuple[str, ...] = ()
    """Warnings found while reading the environment (ignored or overridden variables)."""

    @property
    def is_production(self) -> bool:
        """Tell whether the service runs with ``ENVIRONMENT=production``."""
        return self.environment is Environment.PRODUCTION

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """Return settings read from *env*, or raise one error listing every problem.

        *cwd* is where the default SQLite database and the development key file live (default:
        the working directory). In production nothing is ever generated; in development missing
        ``JWT_SECRET``, ``ENCRYPTION_KEY`` and ``MESSAGING_SIGNING_SECRET`` come from the key file.
        """
        base = (cwd or Path.cwd()).resolve()
        reader = EnvReader(env)
        environment = Environment.from_env(reader)
        log_level = reader.choice("LOG_LEVEL", "info", _LOG_LEVELS)
        server = ServerSettings.from_env(reader)
        database = DatabaseSettings.from_env(reader, base)
        security = SecuritySettings.from_env(reader)
        messaging = MessagingSettings.from_env(reader)
        store, chosen_by = security.credential_store, security.credential_store_chosen_by
        vault = VaultSettings.from_env(reader, store, chosen_by)
        platforms = PlatformSettings.from_env(reader)
        tawkto = TawktoSettings.from_env(reader)
        mercadopago = MercadoPagoSettings.from_env(reader)
        rate_limit = RateLimitSettings.from_env(reader)
        rotation = RotationSettings.from_env(reader)

        required = {
            "JWT_SECRET": None if security.jwt_secret is PENDING else security.jwt_secret,
            "ENCRYPTION_KEY": None
            if security.encryption_key is PENDING
            else security.encryption_key,
        }
        if messaging.service_url is not None or environment is Environment.DEVELOPMENT:
            required["MESSAGING_SIGNING_SECRET"] = messaging.signing_secret
        missing = [name for name, value in required.items() if value is None]
        if environment is Environment.PRODUCTION:
            for name in missing:
                if not reader.is_set(name):  # a set but malformed value is already reported
                    reader.problem(name, "required when ENVIRONMENT=production (never generated)")
        if reader.problems:
            raise ConfigurationError(
                f"invalid configuration: {len(reader.problems)} problem(s)",
                problems=tuple(reader.problems),
            )
        dev_keys = None
        if missing:  # development only: production raised above
            dev_keys, generated = _development_keys(database, base, missing)
            security = attrs.evolve(
                security,
                jwt_secret=required["JWT_SECRET"] or generated["JWT_SECRET"],
                encryption_key=required["ENCRYPTION_KEY"] or generated["ENCRYPTION_KEY"],
            )
            messaging = attrs.evolve(
                messaging,
                signing_secret=messaging.signing_secret or generated["MESSAGING_SIGNING_SECRET"],
            )
        return cls(
            environment=environment,
            log_level=log_level,
            server=server,
            database=database,
            security=security,
            messaging=messaging,
            platforms=platforms,
            tawkto=tawkto,
            mercadopago=mercadopago,
            vault=vault,
            rate_limit=rate_limit,
            rotation=rotation,
            dev_keys=dev_keys,
            notes=tuple(reader.notes),
        )

    def warnings(self) -> tuple[str, ...]:
        """Return the start-up warnings, one line each, safe to log (no secret values)."""
        return _startup_warnings(self)

    def summary(self) -> dict[str, str]:
        """Return the choices an operator checks first, for the start-up log and health.

        Names and modes only, never a secret or a URL: health answers without a token.
        """
        return {
            "environment": self.environment.value,
            "credential_store": self.security.credential_store.value,
            "credential_store_chosen_by": self.security.credential_store_chosen_by,
            "mercadopago_environment": self.mercadopago.environment,
        }


def _startup_warnings(settings: Settings) -> tuple[str, ...]:
    """Return every start-up warning for *settings*, most important first."""
    warnings: list[str] = []
    if settings.dev_keys is not None:
        names = ", ".join(settings.dev_keys.names)
        warnings.append(
            f"DEVELOPMENT KEYS IN USE: {names} come from {settings.dev_keys.path}, generated for "
            "development; anyone who can read that file can mint API tokens and decrypt stored "
            "credentials. Set them and ENVIRONMENT=production for a real deployment."
        )
    for channel, own_secret in _GLOBAL_SECRET_CHANNELS.items():
        if not settings.platforms.secrets_for(channel).webhook_secrets:
            warnings.append(
                f"{channel.name}_WEBHOOK_SECRET is not set: {channel.value} rejects all its "
                f"webhooks (fail closed) except those routed to an integration with its own "
                f"{own_secret}"
            )
    if not settings.mercadopago.webhook_secrets:
        warnings.append(
            "MP_WEBHOOK_SECRET is not set: mercadopago rejects all its webhooks (fail closed)"
        )
    if len(settings.security.jwt_secret.reveal().encode()) < _MIN_JWT_SECRET_BYTES:
        warnings.append(
            f"JWT_SECRET is shorter than {_MIN_JWT_SECRET_BYTES} bytes: HS256 tokens signed "
            "with it can be brute-forced; use at least 32 random bytes"
        )
    messaging = settings.messaging
    if messaging.service_url is None:
        warnings.append("MESSAGING_SERVICE_URL is not set: events are stored but not forwarded")
    elif messaging.lease <= messaging.slowest_batch:
        warnings.append(
            f"FORWARD_LEASE ({format_duration(messaging.lease)}) is not longer than a batch of "
            f"FORWARD_BATCH_SIZE={messaging.batch_size} can take "
            f"({format_duration(messaging.slowest_batch)}): an event still in flight may be "
            "claimed by another worker and delivered twice"
        )
    if settings.is_production:
        warnings.extend(_production_warnings(settings))
    warnings.extend(settings.notes)
    return tuple(warnings)


def _production_warnings(settings: Settings) -> list[str]:
    warnings: list[str] = []
    if settings.database.is_sqlite:
        warnings.append(
            "ENVIRONMENT=production on SQLite: a single process only, no replicas; "
            "set DATABASE_URL to PostgreSQL"
        )
    if not settings.server.base_url_set:
        warnings.append(
            f"BASE_URL is not set: webhook URLs point at {settings.server.base_url}, which "
            "platforms cannot reach"
        )
    if "*" in settings.server.allowed_origins:
        warnings.append("ALLOWED_ORIGINS contains '*': any web page may call the API")
    if settings.mercadopago.environment == "sandbox":
        warnings.append(
            "MP_ENVIRONMENT=sandbox with ENVIRONMENT=production: checkout links go to Mercado "
            "Pago's test checkout, where buyers cannot really pay; set MP_ENVIRONMENT=production"
        )
    return warnings


def _given(secret: Secret) -> Secret | None:
    return None if secret is PENDING else secret


def _development_keys(
    database: DatabaseSettings, base: Path, missing: list[str]
) -> tuple[DevKeys, dict[str, Secret]]:
    path = keys.key_file_for(database.sqlite_file, base)
    try:
        generated = keys.load_or_create(path).by_name()
    except (keys.DevKeyFileError, OSError) as exc:
        detail = (
            str(exc)
            if isinstance(exc, keys.DevKeyFileError)
            else f"cannot write {path}: {exc.strerror or type(exc).__name__}"
        )
        raise ConfigurationError(
            "invalid configuration: development key file",
            problems=tuple(
                f"{name}: not set, and the development key file is unusable: {detail} "
                "(delete it to generate new keys; data encrypted with the old ones is lost)"
                for name in missing
            ),
        ) from None
    return DevKeys(path=path, names=tuple(missing)), generated
