"""The service's configuration: every environment variable, parsed and validated in one place.

:meth:`Settings.from_env` reads a mapping (never ``os.environ`` directly, so tests pass plain
dicts), reports every problem at once in one :class:`ConfigurationError`, and in development fills
missing keys from the development key file (:mod:`integration_service.devkeys`).
:meth:`Settings.warnings` lists what an operator must hear at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_service import devkeys
from integration_service.env import EnvReader
from integration_service.keys import InvalidKey, decode_key, decode_signing_secret
from integration_service.loading import (
    read_credential_store,
    read_database,
    read_mercadopago,
    read_platforms,
    read_rate_limit,
    read_server,
    read_tawkto,
    read_vault,
)
from integration_service.notices import startup_warnings
from integration_service.rotation_settings import RotationSettings, read_rotation
from integration_service.sections import (
    DEFAULT_RETRY_SCHEDULE,
    ChannelSecrets,
    CredentialStoreKind,
    DatabaseSettings,
    DevKeys,
    Environment,
    MercadoPagoSettings,
    MessagingSettings,
    PlatformSettings,
    RateLimitSettings,
    SecuritySettings,
    ServerSettings,
    TawktoSettings,
    VaultSettings,
)

__all__ = [
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

_ENVIRONMENTS = {
    "development": Environment.DEVELOPMENT,
    "dev": Environment.DEVELOPMENT,
    "production": Environment.PRODUCTION,
    "prod": Environment.PRODUCTION,
}
_LOG_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "critical": "critical",
}


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
        notes: list[str] = []
        environment = reader.choice("ENVIRONMENT", Environment.DEVELOPMENT, _ENVIRONMENTS)
        log_level = reader.choice("LOG_LEVEL", "info", _LOG_LEVELS)
        server = read_server(reader)
        database = read_database(reader, base, notes)
        jwt_secret = reader.secret("JWT_SECRET")
        encryption_key = _checked(reader, "ENCRYPTION_KEY", decode_key)
        previous = tuple(
            key
            for index, key in enumerate(reader.secrets("ENCRYPTION_KEYS_PREVIOUS"), start=1)
            if _valid(reader, f"ENCRYPTION_KEYS_PREVIOUS (item {index})", key, decode_key)
        )
        jwt_expiry = reader.duration("JWT_EXPIRY", SecuritySettings.DEFAULT_EXPIRY, positive=True)
        leeway = reader.integer("JWT_LEEWAY_SECONDS", 0, minimum=0, maximum=3600)
        store, store_chosen_by = read_credential_store(reader)
        messaging_url = reader.url("MESSAGING_SERVICE_URL")
        signing_secret = _checked(reader, "MESSAGING_SIGNING_SECRET", decode_signing_secret)
        retry_schedule = reader.durations("FORWARD_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)
        forwarding = _read_forwarding(reader)
        vault = read_vault(reader, store, store_chosen_by, notes)
        platforms = read_platforms(reader, notes)
        tawkto = read_tawkto(reader, notes)
        mercadopago = read_mercadopago(reader)
        rate_limit = read_rate_limit(reader)
        rotation = read_rotation(reader)

        required = {"JWT_SECRET": jwt_secret, "ENCRYPTION_KEY": encryption_key}
        if messaging_url is not None or environment is Environment.DEVELOPMENT:
            required["MESSAGING_SIGNING_SECRET"] = signing_secret
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
            jwt_secret = jwt_secret or generated["JWT_SECRET"]
            encryption_key = encryption_key or generated["ENCRYPTION_KEY"]
            signing_secret = signing_secret or generated["MESSAGING_SIGNING_SECRET"]
        assert jwt_secret is not None  # required above, or generated
        assert encryption_key is not None  # required above, or generated
        return cls(
            environment=environment,
            log_level=log_level,
            server=server,
            database=database,
            security=SecuritySettings(
                jwt_secret=jwt_secret,
                jwt_expiry=jwt_expiry,
                jwt_leeway_seconds=leeway,
                encryption_key=encryption_key,
                encryption_keys_previous=previous,
                credential_store=store,
                credential_store_chosen_by=store_chosen_by,
            ),
            messaging=attrs.evolve(
                forwarding,
                service_url=messaging_url,
                signing_secret=signing_secret,
                retry_schedule=retry_schedule,
            ),
            platforms=platforms,
            tawkto=tawkto,
            mercadopago=mercadopago,
            vault=vault,
            rate_limit=rate_limit,
            rotation=rotation,
            dev_keys=dev_keys,
            notes=tuple(notes),
        )

    def warnings(self) -> tuple[str, ...]:
        """Return the start-up warnings, one line each, safe to log (no secret values)."""
        return startup_warnings(self)

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


def _read_forwarding(reader: EnvReader) -> MessagingSettings:
    """Read how the forwarding workers run (``FORWARD_WORKERS``, batch, poll, lease)."""
    defaults = MessagingSettings()
    return MessagingSettings(
        workers=reader.integer("FORWARD_WORKERS", defaults.workers, minimum=1, maximum=64),
        batch_size=reader.integer(
            "FORWARD_BATCH_SIZE", defaults.batch_size, minimum=1, maximum=1000
        ),
        poll_interval=reader.duration(
            "FORWARD_POLL_INTERVAL", defaults.poll_interval, positive=True
        ),
        lease=reader.duration("FORWARD_LEASE", defaults.lease, positive=True),
    )


def _checked(reader: EnvReader, name: str, decode: Callable[[str], bytes]) -> Secret | None:
    secret = reader.secret(name)
    if secret is None or not _valid(reader, name, secret, decode):
        return None
    return secret


def _valid(reader: EnvReader, name: str, secret: Secret, decode: Callable[[str], bytes]) -> bool:
    try:
        decode(secret.reveal())
    except InvalidKey as exc:
        reader.problem(name, str(exc))
        return False
    return True


def _development_keys(
    database: DatabaseSettings, base: Path, missing: list[str]
) -> tuple[DevKeys, dict[str, Secret]]:
    path = devkeys.key_file_for(database.sqlite_file, base)
    try:
        generated = devkeys.load_or_create(path).by_name()
    except (devkeys.DevKeyFileError, OSError) as exc:
        detail = (
            str(exc)
            if isinstance(exc, devkeys.DevKeyFileError)
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
