"""The start-up warnings: what an operator must hear before trusting a running service.

Each is one line, safe to log (names and paths, never secret values). The server logs them at
WARNING level; the first, about development keys, is deliberately loud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integration_core.channels import Channel
from integration_service.durations import format_duration

if TYPE_CHECKING:
    from integration_service.settings import Settings

# Channels whose webhooks verify with the global secret, or with a secret the integration may
# carry; Telegram and webchat always verify with the integration's own generated secret.
_GLOBAL_SECRET_CHANNELS: dict[Channel, str] = {
    Channel.WHATSAPP: "app_secret",
    Channel.MESSENGER: "app_secret",
    Channel.INSTAGRAM: "app_secret",
    Channel.TAWKTO: "webhook_secret",
}
_MIN_JWT_SECRET_BYTES = 32


def startup_warnings(settings: Settings) -> tuple[str, ...]:
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
