"""The groups of settings, one frozen attrs class per concern.

Every secret is an :class:`~integration_core.credentials.Secret`, so ``repr(settings)`` and any
log line that includes a section show ``Secret('**********')`` instead of the value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import attrs

from integration_core.channels import MESSAGING_CHANNELS, Channel
from integration_core.credentials import Secret
from integration_core.use_cases.forwarding import DEFAULT_SCHEDULE
from integration_service.database_url import hide_password
from integration_service.keys import decode_key

DEFAULT_RETRY_SCHEDULE = DEFAULT_SCHEDULE  # the contract's schedule, defined once in the core


class Environment(enum.StrEnum):
    """Development generates missing keys; production refuses to start without them."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class CredentialStoreKind(enum.StrEnum):
    """Where integration secrets are kept: encrypted in the database, or in Vault's KV v2."""

    DATABASE = "database"
    VAULT = "vault"


@attrs.frozen(kw_only=True)
class ServerSettings:
    """The HTTP listener and what it accepts (``HOST``, ``PORT``, ``BASE_URL``, CORS, limits)."""

    host: str = "0.0.0.0"  # noqa: S104 - a service in a container listens on every interface
    port: int = 8080
    base_url: str = "http://localhost:8080"
    base_url_set: bool = False
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    trust_proxy_headers: bool = False
    shutdown_timeout: timedelta = timedelta(seconds=25)
    """How long in-flight requests may run after SIGTERM (below Kubernetes' 30 s grace)."""


@attrs.frozen(kw_only=True)
class DatabaseSettings:
    """The SQLAlchemy URL (a secret: it may hold a password) and whether to migrate at start."""

    url: Secret
    auto_migrate: bool = True
    sqlite_file: Path | None = None
    """The database file when *url* is SQLite on disk, else ``None``."""

    @property
    def display_url(self) -> str:
        """Return the URL with its password hidden, for logs."""
        return hide_password(self.url.reveal())

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database is SQLite (single process, fine for development)."""
        return self.url.reveal().startswith("sqlite")


@attrs.frozen(kw_only=True)
class SecuritySettings:
    """Management API tokens (HS256 JWT) and the keys that encrypt stored credentials."""

    DEFAULT_EXPIRY: ClassVar[timedelta] = timedelta(hours=24)

    jwt_secret: Secret
    jwt_expiry: timedelta = DEFAULT_EXPIRY
    jwt_leeway_seconds: int = 0
    encryption_key: Secret
    """As written (hex, base64 or raw); validated to decode to 32 bytes."""
    encryption_keys_previous: tuple[Secret, ...] = ()
    credential_store: CredentialStoreKind = CredentialStoreKind.DATABASE
    credential_store_chosen_by: str = "default"
    """What chose *credential_store*: ``CREDENTIAL_STORE``, ``VAULT_ADDR`` or ``default``."""

    @property
    def encryption_keys(self) -> tuple[bytes, ...]:
        """Return the decoded current key first, then older ones still accepted for decryption."""
        return tuple(
            decode_key(key.reveal())
            for key in (self.encryption_key, *self.encryption_keys_previous)
        )


@attrs.frozen(kw_only=True)
class MessagingSettings:
    """The downstream messaging service and how forwarded events are signed and retried.

    *workers* forwarding loops run in each ``worker``/``all`` process (``FORWARD_WORKERS``),
    each claiming up to *batch_size* due events at a time (``FORWARD_BATCH_SIZE``) and looking
    again every *poll_interval* when the outbox is empty (``FORWARD_POLL_INTERVAL``). *lease*
    (``FORWARD_LEASE``) is how long a claimed event is reserved for its worker: a worker that
    dies mid-batch gives its events back after it, so shorter is faster recovery, but it must
    outlast a slow batch or an event still in flight is sent twice. Two loops by default: while
    one claims or settles its batch in the database, the other's deliveries are in flight.
    """

    service_url: str | None = None
    signing_secret: Secret | None = None
    retry_schedule: tuple[timedelta, ...] = DEFAULT_RETRY_SCHEDULE
    workers: int = 2
    batch_size: int = 100
    poll_interval: timedelta = timedelta(milliseconds=500)
    lease: timedelta = timedelta(minutes=2)

    CONCURRENCY: ClassVar[int] = 16
    """Deliveries one worker has in flight at once."""
    TIMEOUT: ClassVar[timedelta] = timedelta(seconds=15)
    """How long one delivery may take before it counts as failed."""

    @property
    def slowest_batch(self) -> timedelta:
        """Return how long a batch takes if every delivery times out; the lease must be longer."""
        rounds = -(-self.batch_size // self.CONCURRENCY)
        return rounds * self.TIMEOUT


@attrs.frozen(kw_only=True)
class ChannelSecrets:
    """A channel's global verify token and webhook secrets (current first, then previous)."""

    verify_token: Secret | None = None
    webhook_secrets: tuple[Secret, ...] = ()


@attrs.frozen(kw_only=True)
class PlatformSettings:
    """Per-channel webhook secrets and the platform API roots (overridable for tests)."""

    channels: Mapping[Channel, ChannelSecrets] = attrs.field(
        factory=lambda: {channel: ChannelSecrets() for channel in MESSAGING_CHANNELS}
    )
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v26.0"
    meta_app_id: str | None = None
    instagram_graph_base_url: str = "https://graph.instagram.com"
    telegram_api_base_url: str = "https://api.telegram.org"
    token_refresh_margin: timedelta = timedelta(days=10)

    def secrets_for(self, channel: Channel) -> ChannelSecrets:
        """Return *channel*'s secrets (empty for a channel without global ones)."""
        return self.channels.get(channel, ChannelSecrets())

    @property
    def webhook_secrets(self) -> Mapping[Channel, tuple[Secret, ...]]:
        """Return every messaging channel's webhook secrets (empty: only integrations' own)."""
        return {c: self.secrets_for(c).webhook_secrets for c in MESSAGING_CHANNELS}

    @property
    def verify_tokens(self) -> Mapping[Channel, tuple[Secret, ...]]:
        """Return each Meta channel's verify token, for those that have one."""
        return {
            channel: (token,)
            for channel in MESSAGING_CHANNELS
            if channel.is_meta and (token := self.secrets_for(channel).verify_token) is not None
        }


@attrs.frozen(kw_only=True)
class TawktoSettings:
    """The Tawk.to REST API root (``TAWKTO_BASE_URL``, with or without its ``/v1``).

    The account (API key, property and widget ids) belongs to each tenant's Tawk.to
    integration, so ``TAWKTO_API_KEY``, ``TAWKTO_PROPERTY_ID`` and ``TAWKTO_WIDGET_ID`` are only
    warned about (see :mod:`integration_service.loading`).
    """

    base_url: str = "https://api.tawk.to/v1"


@attrs.frozen(kw_only=True)
class MercadoPagoSettings:
    """Our own Mercado Pago account and how its notifications are verified.

    *environment* defaults to ``production`` as in the original service: a production deploy
    must never send buyers to the test checkout because a variable was left out.
    """

    access_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    environment: str = "production"
    webhook_url: str | None = None
    webhook_secrets: tuple[Secret, ...] = ()
    webhook_tolerance_seconds: int = 0
    api_base_url: str = "https://api.mercadopago.com"
    ipn_enabled: bool = True
    """Accept legacy unsigned IPNs (``MP_IPN_ENABLED``), as the original service did."""
    ipn_window: timedelta = timedelta(minutes=1)
    """IPNs naming one resource are stored and fetched once per window (``MP_IPN_WINDOW``)."""


@attrs.frozen(kw_only=True)
class VaultSettings:
    """Vault (or OpenBao) KV v2, used when ``CREDENTIAL_STORE=vault``."""

    addr: str | None = None
    token: Secret | None = None


@attrs.frozen(kw_only=True)
class RateLimitSettings:
    """Token-bucket rates (requests a second, burst) per scope, shared through Redis if set.

    *rps*/*burst* apply per client IP (``RATE_LIMIT_RPS``/``RATE_LIMIT_BURST``, 100/200 as in
    the original service) on management routes and on webhook requests that do not verify;
    per tenant on management routes they default to the same values. Verified webhook
    deliveries are never limited per IP (a platform delivers every tenant's traffic from a few
    addresses) but per integration, or per channel for those verified with a platform-wide
    secret (``RATE_LIMIT_WEBHOOK_*``).
    """

    rps: float = 100.0
    burst: int = 200
    tenant_rps: float = 100.0
    tenant_burst: int = 200
    webhook_rps: float = 100.0
    webhook_burst: int = 200
    redis_url: Secret | None = None
    """A secret because ``redis://:password@host`` URLs carry the password."""


@attrs.frozen(kw_only=True)
class DevKeys:
    """Which secrets came from the development key file, and where that file is."""

    path: Path
    names: tuple[str, ...]
