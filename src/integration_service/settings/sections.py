"""The service's own groups of settings, one frozen attrs class per concern, each reading itself.

Every ``from_env`` reads its variables through the shared :class:`~.env.EnvReader`, which
collects problems instead of raising, so every mistake is reported at once. Every secret is an
:class:`~integration_core.credentials.Secret`, so ``repr(settings)`` and any log line that
includes a section show ``Secret('**********')`` instead of the value. The platforms' sections
are in :mod:`.platforms`.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from pathlib import Path
from typing import ClassVar, Final
from urllib.parse import urlsplit

import attrs

from adapters_db.engine import database_url
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_core.use_cases.forwarding import DEFAULT_SCHEDULE
from integration_service.settings import env as parse
from integration_service.settings.env import EnvReader
from integration_service.settings.keys import decode_key, decode_signing_secret

DEFAULT_RETRY_SCHEDULE = DEFAULT_SCHEDULE  # the contract's schedule, defined once in the core
_DB_PARTS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSL_MODE")
PENDING: Final = Secret("")
"""Stands in for a key development may generate until :meth:`Settings.from_env` decides.

It never leaves ``from_env``: production refuses to start without the key, development fills it
in from the development key file.
"""


class Environment(enum.StrEnum):
    """Development generates missing keys; production refuses to start without them."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"

    @classmethod
    def from_env(cls, reader: EnvReader) -> Environment:
        """Read ``ENVIRONMENT`` (``development``/``dev`` or ``production``/``prod``)."""
        choices = {"development": cls.DEVELOPMENT, "dev": cls.DEVELOPMENT}
        choices |= {"production": cls.PRODUCTION, "prod": cls.PRODUCTION}
        return reader.choice("ENVIRONMENT", cls.DEVELOPMENT, choices)


class CredentialStoreKind(enum.StrEnum):
    """Where integration secrets are kept: encrypted in the database, or in Vault's KV v2."""

    DATABASE = "database"
    VAULT = "vault"

    @classmethod
    def from_env(cls, reader: EnvReader) -> tuple[CredentialStoreKind, str]:
        """Return where credentials are kept and which variable chose it.

        ``CREDENTIAL_STORE`` wins when set; otherwise ``VAULT_ADDR`` alone means Vault, as it did
        in the original service (which had no ``CREDENTIAL_STORE``); otherwise the database.
        """
        if reader.is_set("CREDENTIAL_STORE"):
            kinds = {kind.value: kind for kind in cls}
            return reader.choice("CREDENTIAL_STORE", cls.DATABASE, kinds), "CREDENTIAL_STORE"
        if reader.is_set("VAULT_ADDR"):
            return cls.VAULT, "VAULT_ADDR"
        return cls.DATABASE, "default"


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

    @classmethod
    def from_env(cls, reader: EnvReader) -> ServerSettings:
        """Read ``HOST``, ``PORT``, ``BASE_URL``, ``ALLOWED_ORIGINS`` and the body limit."""
        defaults = cls()
        port = reader.integer("PORT", defaults.port, minimum=1, maximum=65535)
        base_url = reader.url("BASE_URL")
        origins = reader.items("ALLOWED_ORIGINS")
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc):
                reader.problem(
                    "ALLOWED_ORIGINS",
                    f"{origin!r} is not an origin like https://app.example.com or *",
                )
        return cls(
            host=reader.text("HOST", defaults.host) or defaults.host,
            port=port,
            base_url=base_url or f"http://localhost:{port}",
            base_url_set=base_url is not None,
            allowed_origins=tuple(origin.rstrip("/") for origin in origins),
            max_body_bytes=reader.integer(
                "WEBHOOK_MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1
            ),
            trust_proxy_headers=reader.boolean("TRUST_PROXY_HEADERS", defaults.trust_proxy_headers),
            shutdown_timeout=reader.duration("SHUTDOWN_TIMEOUT", defaults.shutdown_timeout),
        )


@attrs.frozen(kw_only=True)
class DatabaseSettings:
    """The SQLAlchemy URL (a secret: it may hold a password) and whether to migrate at start."""

    url: Secret
    auto_migrate: bool = True
    sqlite_file: Path | None = None
    """The database file when *url* is SQLite on disk, else ``None``."""

    @classmethod
    def from_env(cls, reader: EnvReader, base: Path) -> DatabaseSettings:
        """Read ``DATABASE_URL``, else ``DB_*`` (with ``DB_HOST``), else SQLite in *base*."""
        auto_migrate = reader.boolean("AUTO_MIGRATE", True)
        ssl_mode = reader.choice("DB_SSL_MODE", "disable", {mode: mode for mode in parse.SSL_MODES})
        port = reader.integer("DB_PORT", 5432, minimum=1, maximum=65535)
        given_parts = [name for name in _DB_PARTS if reader.is_set(name)]
        raw_url = reader.text("DATABASE_URL")
        default_file = base / parse.DEFAULT_SQLITE_FILE
        if raw_url is not None:
            if given_parts:
                reader.note(f"DATABASE_URL is set, so {', '.join(given_parts)} are ignored")
            try:
                url = database_url(raw_url)
            except ConfigurationError as exc:
                reader.problems.extend(exc.problems)
                url = parse.sqlite_url(default_file)
        elif reader.is_set("DB_HOST"):
            password = reader.secret("DB_PASSWORD")
            url = parse.postgres_url(
                host=reader.text("DB_HOST") or "",
                port=port,
                name=reader.text("DB_NAME", "integration_service") or "",
                user=reader.text("DB_USER", "postgres") or "",
                password=password.reveal() if password else None,
                ssl_mode=ssl_mode,
            )
        else:
            if given_parts:
                ignored = ", ".join(given_parts)
                reader.note(f"DB_HOST is not set, so {ignored} are ignored (SQLite)")
            url = parse.sqlite_url(default_file)
        sqlite_file = parse.sqlite_path(url)
        if sqlite_file is not None and not sqlite_file.name:
            reader.problem("DATABASE_URL", "names a directory, not an SQLite file")
            sqlite_file = None
        elif sqlite_file is not None and not sqlite_file.is_absolute():
            sqlite_file = base / sqlite_file
        return cls(url=Secret(url), auto_migrate=auto_migrate, sqlite_file=sqlite_file)

    @property
    def display_url(self) -> str:
        """Return the URL with its password hidden, for logs."""
        return parse.hide_password(self.url.reveal())

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

    @classmethod
    def from_env(cls, reader: EnvReader) -> SecuritySettings:
        """Read ``JWT_*``, ``ENCRYPTION_KEY*`` and where credentials are kept.

        An unset ``JWT_SECRET`` or ``ENCRYPTION_KEY`` is :data:`PENDING`: the caller refuses to
        start (production) or fills it in from the development key file.
        """
        jwt_secret = reader.secret("JWT_SECRET")
        encryption_key = reader.key("ENCRYPTION_KEY", decode_key)
        previous = reader.keys("ENCRYPTION_KEYS_PREVIOUS", decode_key)
        expiry = reader.duration("JWT_EXPIRY", cls.DEFAULT_EXPIRY, positive=True)
        leeway = reader.integer("JWT_LEEWAY_SECONDS", 0, minimum=0, maximum=3600)
        store, chosen_by = CredentialStoreKind.from_env(reader)
        return cls(
            jwt_secret=jwt_secret or PENDING,
            jwt_expiry=expiry,
            jwt_leeway_seconds=leeway,
            encryption_key=encryption_key or PENDING,
            encryption_keys_previous=previous,
            credential_store=store,
            credential_store_chosen_by=chosen_by,
        )

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
    *split_workers* splitting loops (``SPLIT_WORKERS``) drain the spool side by side in the same
    processes, each forwarding the events it stored with its own concurrency limit: while one
    waits for the database or the messaging service, another parses. Unset, a ``worker``
    process runs :attr:`SPLITTERS` and an ``all`` process one (:meth:`for_process`), so that in
    a process that also answers webhooks the acknowledgements keep the CPU under load and the
    spool waits.
    """

    service_url: str | None = None
    signing_secret: Secret | None = None
    retry_schedule: tuple[timedelta, ...] = DEFAULT_RETRY_SCHEDULE
    workers: int = 2
    split_workers: int | None = None
    batch_size: int = 100
    poll_interval: timedelta = timedelta(milliseconds=500)
    lease: timedelta = timedelta(minutes=2)

    SPLITTERS: ClassVar[int] = 4
    """Splitting loops of a ``worker`` process when ``SPLIT_WORKERS`` is unset (measured with
    ``benchmarks/ingest.py``: the spool drains in about half the time of one loop)."""
    CONCURRENCY: ClassVar[int] = 16
    """Deliveries one worker has in flight at once."""
    TIMEOUT: ClassVar[timedelta] = timedelta(seconds=15)
    """How long one delivery may take before it counts as failed."""

    @classmethod
    def from_env(cls, reader: EnvReader) -> MessagingSettings:
        """Read ``MESSAGING_*``, ``FORWARD_RETRY_SCHEDULE`` and how the forwarding workers run."""
        defaults = cls()
        return cls(
            service_url=reader.url("MESSAGING_SERVICE_URL"),
            signing_secret=reader.key("MESSAGING_SIGNING_SECRET", decode_signing_secret),
            retry_schedule=reader.durations("FORWARD_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE),
            workers=reader.integer("FORWARD_WORKERS", defaults.workers, minimum=1, maximum=64),
            split_workers=reader.optional_integer("SPLIT_WORKERS", minimum=1, maximum=64),
            batch_size=reader.integer(
                "FORWARD_BATCH_SIZE", defaults.batch_size, minimum=1, maximum=1000
            ),
            poll_interval=reader.duration(
                "FORWARD_POLL_INTERVAL", defaults.poll_interval, positive=True
            ),
            lease=reader.duration("FORWARD_LEASE", defaults.lease, positive=True),
        )

    def for_process(self, *, serves_api: bool) -> MessagingSettings:
        """Return these settings with ``SPLIT_WORKERS`` decided for a process that does, or does
        not, also serve the API (see the class)."""
        if self.split_workers is not None:
            return self
        return attrs.evolve(self, split_workers=1 if serves_api else self.SPLITTERS)

    @property
    def slowest_batch(self) -> timedelta:
        """Return how long a batch takes if every delivery times out; the lease must be longer."""
        rounds = -(-self.batch_size // self.CONCURRENCY)
        return rounds * self.TIMEOUT


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

    @classmethod
    def from_env(cls, reader: EnvReader) -> RateLimitSettings:
        """Read ``RATE_LIMIT_*`` (per IP, per tenant, per webhook channel) and ``REDIS_URL``."""
        defaults = cls()
        redis_url = reader.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
        rps = reader.number("RATE_LIMIT_RPS", defaults.rps)
        burst = reader.integer("RATE_LIMIT_BURST", defaults.burst, minimum=1)
        return cls(
            rps=rps,
            burst=burst,
            tenant_rps=reader.number("RATE_LIMIT_TENANT_RPS", rps),
            tenant_burst=reader.integer("RATE_LIMIT_TENANT_BURST", burst, minimum=1),
            webhook_rps=reader.number("RATE_LIMIT_WEBHOOK_RPS", defaults.webhook_rps),
            webhook_burst=reader.integer(
                "RATE_LIMIT_WEBHOOK_BURST", defaults.webhook_burst, minimum=1
            ),
            redis_url=Secret(redis_url) if redis_url else None,
        )


@attrs.frozen(kw_only=True)
class RotationSettings:
    """How the token-rotation scheduler of a ``worker``/``all`` process runs.

    A pass runs every *interval* (``TOKEN_ROTATION_INTERVAL``); a token that never expires is
    probed every *probe_interval* (``TOKEN_PROBE_INTERVAL``); a failed refresh waits
    *cooldown* (``TOKEN_REFRESH_COOLDOWN``), doubling per failure up to *max_cooldown*, and
    after *max_failures* in a row (``TOKEN_REFRESH_MAX_FAILURES``) the integration needs
    reauthorization. ``TOKEN_REFRESH_MARGIN`` (the window before expiry) is read with the
    platform settings, where the contract lists it.
    """

    interval: timedelta = timedelta(hours=1)
    probe_interval: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(hours=1)
    max_cooldown: timedelta = timedelta(hours=24)
    max_failures: int = 5

    @classmethod
    def from_env(cls, reader: EnvReader) -> RotationSettings:
        """Read ``TOKEN_ROTATION_INTERVAL``, ``TOKEN_PROBE_INTERVAL`` and the refresh retries."""
        defaults = cls()
        cooldown = reader.duration("TOKEN_REFRESH_COOLDOWN", defaults.cooldown, positive=True)
        return cls(
            interval=reader.duration("TOKEN_ROTATION_INTERVAL", defaults.interval, positive=True),
            probe_interval=reader.duration(
                "TOKEN_PROBE_INTERVAL", defaults.probe_interval, positive=True
            ),
            cooldown=cooldown,
            # The cap never undercuts the first wait, so a long cooldown is still honoured.
            max_cooldown=max(defaults.max_cooldown, cooldown),
            max_failures=reader.integer(
                "TOKEN_REFRESH_MAX_FAILURES", defaults.max_failures, minimum=1, maximum=100
            ),
        )


@attrs.frozen(kw_only=True)
class DevKeys:
    """Which secrets came from the development key file, and where that file is."""

    path: Path
    names: tuple[str, ...]
