"""The one place that knows every concrete adapter class and wires them together.

A dependency-injector :class:`Container` declares the object graph; nothing is injected by
decorators (no ``@inject``, no ``Provide[...]``): :func:`build_services` asks the container for
the finished :class:`~adapters_http.services.HttpServices` and hands it to ``create_app``.
Resources with a lifetime (the database engine, the rate limiter's Redis pool, the outgoing
HTTP client session) are ``providers.Resource`` async generators, so
``await container.shutdown_resources()`` closes each of them exactly once. What depends on
optional configuration (the messaging service) is provided as ``None`` when it is not set, and
the roles (:mod:`integration_service.roles`) decide what to run from that.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, TypeVar

import aiohttp
import prometheus_client
from dependency_injector import containers, providers
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.credentials import SqlCredentialStore
from adapters_db.engine import create_engine
from adapters_db.events import SqlEventStore
from adapters_db.health import DatabaseProbe
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.payments import SqlPaymentStore
from adapters_http.auth import JwtAuthenticator
from adapters_http.rate_limit import SCOPE_IP, SCOPE_TENANT, SCOPE_WEBHOOK, Rate, RateLimiter
from adapters_http.services import HttpServices, HttpSettings
from adapters_platforms.http import client_session
from adapters_platforms.messaging import HttpMessageForwarder, MessagingServiceProbe
from adapters_platforms.meta_graph import (
    InstagramGraphClient,
    InstagramSetup,
    MessengerSetup,
    MetaGraphClient,
    WhatsAppSetup,
)
from adapters_platforms.tawkto import TawkToSetup
from adapters_platforms.telegram import TelegramClient, TelegramSetup
from adapters_platforms.vault import VaultCredentialStore, VaultProbe
from integration_core.channels import Channel
from integration_core.clock import SystemClock
from integration_core.errors import ConfigurationError
from integration_core.ports import (
    ChannelSetup,
    Clock,
    CredentialStore,
    EventStore,
    HealthProbe,
    MessageForwarder,
    WebhookVerifier,
)
from integration_core.routing_cache import CachingIntegrationStore
from integration_core.signatures import (
    MetaWebhookVerifier,
    StandardWebhooksVerifier,
    TawkToWebhookVerifier,
    TelegramWebhookVerifier,
)
from integration_core.use_cases.forwarding import ForwardEvents, RetryPolicy
from integration_core.use_cases.health import CheckHealth
from integration_core.use_cases.intake import ReceiveWebhook
from integration_core.use_cases.integrations import (
    DisconnectIntegration,
    GetIntegration,
    ListIntegrations,
    RefreshIntegrationToken,
    SendTestMessage,
    UpdateIntegration,
)
from integration_core.use_cases.onboarding import ConnectIntegration
from integration_service import __version__
from integration_service.forward_metrics import ForwardMetrics
from integration_service.migration import MigrationProbe
from integration_service.settings import CredentialStoreKind, Settings
from integration_service.wakeup import NotifyingEventStore, Wakeup

T = TypeVar("T")


async def database_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Create the service's one engine; dispose of its pool at shutdown."""
    engine = create_engine(settings.database.url.reveal())
    try:
        yield engine
    finally:
        await engine.dispose()


async def rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """Create the rate limiter (in process, or over Redis); release its pool at shutdown."""
    limits = settings.rate_limit
    limiter = RateLimiter(
        rates={
            SCOPE_IP: Rate(limits.rps, limits.burst),
            SCOPE_TENANT: Rate(limits.tenant_rps, limits.tenant_burst),
            SCOPE_WEBHOOK: Rate(limits.webhook_rps, limits.webhook_burst),
        },
        redis_url=limits.redis_url.reveal() if limits.redis_url else None,
    )
    try:
        yield limiter
    finally:
        await limiter.aclose()


async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Open the one outgoing HTTP client session of the process; close it at shutdown."""
    async with client_session(user_agent=f"integration-service/{__version__}") as session:
        yield session


def message_forwarder(
    settings: Settings, session: aiohttp.ClientSession, clock: Clock
) -> MessageForwarder | None:
    """Deliver to ``MESSAGING_SERVICE_URL``, or ``None`` when unset (events stay pending)."""
    messaging = settings.messaging
    if messaging.service_url is None:
        return None
    # Settings require the signing secret whenever the URL is set (generated in development).
    assert messaging.signing_secret is not None
    return HttpMessageForwarder(
        session=session,
        url=messaging.service_url,
        signing_secret=messaging.signing_secret,
        clock=clock,
        timeout_seconds=messaging.TIMEOUT.total_seconds(),
    )


def health_probes(
    settings: Settings, session: aiohttp.ClientSession, *probes: HealthProbe
) -> list[HealthProbe]:
    """Return *probes*, the messaging service's (not critical) when there is one, and Vault's
    (critical: no credential can be read without it) when it keeps the credentials."""
    url = settings.messaging.service_url
    extra: list[HealthProbe] = (
        [] if url is None else [MessagingServiceProbe(session=session, url=url)]
    )
    if settings.security.credential_store is CredentialStoreKind.VAULT and settings.vault.addr:
        extra.append(VaultProbe(url=settings.vault.addr, critical=True))
    return [*probes, *extra]


def forward_events(
    settings: Settings, events: EventStore, forwarder: MessageForwarder | None, clock: Clock
) -> ForwardEvents | None:
    """Build one worker's forwarding use case (its own concurrency limit), if forwarding is on."""
    if forwarder is None:
        return None
    messaging = settings.messaging
    return ForwardEvents(
        events=events,
        forwarder=forwarder,
        clock=clock,
        policy=RetryPolicy(delays=messaging.retry_schedule),
        batch_size=messaging.batch_size,
        concurrency=messaging.CONCURRENCY,
        lease=messaging.lease,
    )


def webhook_verifiers(clock: Clock) -> Mapping[Channel, WebhookVerifier]:
    """Return each messaging channel's signature scheme."""
    meta = MetaWebhookVerifier()
    return {
        Channel.WHATSAPP: meta,
        Channel.MESSENGER: meta,
        Channel.INSTAGRAM: meta,
        Channel.TELEGRAM: TelegramWebhookVerifier(),
        Channel.TAWKTO: TawkToWebhookVerifier(),
        Channel.WEBCHAT: StandardWebhooksVerifier(clock=clock),
    }


def channel_setups(
    settings: Settings, session: aiohttp.ClientSession, clock: Clock
) -> Mapping[Channel, ChannelSetup]:
    """Return the platform side of onboarding, one :class:`ChannelSetup` per platform channel.

    The three Meta channels share one Graph client (one Meta app): its app secret, used for
    ``appsecret_proof`` and token inspection, is the first Meta ``*_WEBHOOK_SECRET`` set, since
    Meta signs webhooks with the app secret. Webchat needs no setup: we are its platform.
    """
    platforms = settings.platforms
    meta_channels = (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM)
    app_secret = next(
        (s for c in meta_channels for s in platforms.secrets_for(c).webhook_secrets), None
    )
    graph = MetaGraphClient(
        session=session,
        base_url=platforms.meta_graph_base_url,
        version=platforms.meta_graph_version,
        app_id=platforms.meta_app_id,
        app_secret=app_secret,
        clock=clock,
    )
    instagram = InstagramGraphClient(
        session=session, base_url=platforms.instagram_graph_base_url, clock=clock
    )
    telegram = TelegramClient(session=session, base_url=platforms.telegram_api_base_url)
    return {
        Channel.WHATSAPP: WhatsAppSetup(graph=graph),
        Channel.MESSENGER: MessengerSetup(graph=graph),
        Channel.INSTAGRAM: InstagramSetup(graph=graph, instagram=instagram),
        Channel.TELEGRAM: TelegramSetup(client=telegram),
        Channel.TAWKTO: TawkToSetup(session=session, base_url=settings.tawkto.base_url),
    }


def credential_store(settings: Settings, engine: AsyncEngine) -> Iterator[CredentialStore]:
    """Keep integrations' own secrets where ``CREDENTIAL_STORE`` says; close Vault's pool after.

    ``database``: AES-256-GCM in the database (current key first). ``vault``: KV v2 at
    ``VAULT_ADDR`` (settings already refused a vault store without an address and a token).
    """
    if settings.security.credential_store is not CredentialStoreKind.VAULT:
        yield SqlCredentialStore(engine=engine, keys=settings.security.encryption_keys)
        return
    vault = settings.vault
    if vault.addr is None or vault.token is None:
        problem = "CREDENTIAL_STORE: vault needs VAULT_ADDR and VAULT_TOKEN"
        raise ConfigurationError(problem, problems=(problem,))
    store = VaultCredentialStore(url=vault.addr, token=vault.token)
    try:
        yield store
    finally:
        store.close()


def metrics_registry() -> prometheus_client.CollectorRegistry:
    """Return a fresh registry with process, platform and GC metrics (never the global one).

    A registry per container lets tests build several apps in one process without
    "Duplicated timeseries" errors.
    """
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def authenticator(settings: Settings, clock: Clock) -> JwtAuthenticator:
    """Verify management tokens with ``JWT_SECRET`` and ``JWT_LEEWAY_SECONDS``."""
    return JwtAuthenticator(
        secret=settings.security.jwt_secret,
        leeway_seconds=settings.security.jwt_leeway_seconds,
        clock=clock,
    )


def migration_probe(settings: Settings) -> MigrationProbe:
    """Fail health until ``serve`` has migrated; with ``AUTO_MIGRATE=false``, never."""
    return MigrationProbe(applied=not settings.database.auto_migrate)


def http_settings(settings: Settings) -> HttpSettings:
    """Project the HTTP adapter's own settings out of the service's."""
    return HttpSettings(
        service_version=__version__,
        allowed_origins=settings.server.allowed_origins,
        max_body_bytes=settings.server.max_body_bytes,
        trust_proxy_headers=settings.server.trust_proxy_headers,
    )


class Container(containers.DeclarativeContainer):
    """The object graph of one service process; build it with ``Container(settings=...)``."""

    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Resource(database_engine, settings=settings)
    rate_limiter = providers.Resource(rate_limiter, settings=settings)
    session = providers.Resource(http_session)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(metrics_registry)

    # Webhook routing looks an integration up per delivery; a few seconds of caching takes that
    # query off the hot path (changes made in this process apply at once).
    sql_integrations = providers.Singleton(SqlIntegrationStore, engine=engine)
    integrations = providers.Singleton(CachingIntegrationStore, store=sql_integrations, clock=clock)
    events = providers.Singleton(SqlEventStore, engine=engine)
    payments = providers.Singleton(SqlPaymentStore, engine=engine)
    credentials = providers.Resource(credential_store, settings=settings, engine=engine)

    # The webhook side stores through this wrapper, which wakes this process's idle workers.
    wakeup = providers.Singleton(Wakeup)
    notifying_events = providers.Singleton(NotifyingEventStore, inner=events, wakeup=wakeup)

    forwarder = providers.Singleton(
        message_forwarder, settings=settings, session=session, clock=clock
    )
    # A Factory: every worker gets its own use case, so each has its own concurrency limit.
    forward_events = providers.Factory(
        forward_events, settings=settings, events=events, forwarder=forwarder, clock=clock
    )
    forward_metrics = providers.Singleton(ForwardMetrics, registry=registry)

    database_probe = providers.Singleton(DatabaseProbe, engine=engine)
    migrations = providers.Singleton(migration_probe, settings=settings)
    check_health = providers.Singleton(
        CheckHealth,
        probes=providers.Callable(health_probes, settings, session, database_probe, migrations),
        integrations=integrations,
    )

    receive_webhook = providers.Singleton(
        ReceiveWebhook,
        integrations=integrations,
        events=notifying_events,
        credentials=credentials,
        clock=clock,
        verifiers=providers.Callable(webhook_verifiers, clock=clock),
        secrets=settings.provided.platforms.webhook_secrets,
    )

    # The integrations API: onboarding and management over the platforms' setups.
    setups = providers.Singleton(channel_setups, settings=settings, session=session, clock=clock)
    connect_integration = providers.Singleton(
        ConnectIntegration,
        integrations=integrations,
        credentials=credentials,
        setups=setups,
        clock=clock,
        base_url=settings.provided.server.base_url,
    )
    list_integrations = providers.Singleton(
        ListIntegrations, integrations=integrations, credentials=credentials
    )
    get_integration = providers.Singleton(
        GetIntegration, integrations=integrations, credentials=credentials
    )
    update_integration = providers.Singleton(
        UpdateIntegration, integrations=integrations, credentials=credentials, clock=clock
    )
    disconnect_integration = providers.Singleton(
        DisconnectIntegration, integrations=integrations, credentials=credentials, setups=setups
    )
    send_test_message = providers.Singleton(
        SendTestMessage, integrations=integrations, credentials=credentials, setups=setups
    )
    refresh_integration_token = providers.Singleton(
        RefreshIntegrationToken,
        integrations=integrations,
        credentials=credentials,
        events=notifying_events,
        setups=setups,
        clock=clock,
    )

    authenticator = providers.Singleton(authenticator, settings=settings, clock=clock)
    http_settings = providers.Singleton(http_settings, settings=settings)
    http_services = providers.Singleton(
        HttpServices,
        settings=http_settings,
        clock=clock,
        check_health=check_health,
        authenticator=authenticator,
        rate_limiter=rate_limiter,
        registry=registry,
        integrations=integrations,
        events=notifying_events,
        payments=payments,
        receive_webhook=receive_webhook,
        verify_tokens=settings.provided.platforms.verify_tokens,
        connect_integration=connect_integration,
        list_integrations=list_integrations,
        get_integration=get_integration,
        update_integration=update_integration,
        disconnect_integration=disconnect_integration,
        send_test_message=send_test_message,
        refresh_integration_token=refresh_integration_token,
    )


async def resolve(provider: providers.Provider[T]) -> T:
    """Return what *provider* provides, awaiting it when it depends on an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    return value  # type: ignore[no-any-return]


async def build_services(container: Container) -> HttpServices:
    """Initialize the container's resources and return the HTTP adapter's services."""
    await _maybe_await(container.init_resources())
    return await resolve(container.http_services)


async def engine_of(container: Container) -> AsyncEngine:
    """Return the container's database engine (initializing it if needed)."""
    return await resolve(container.engine)


async def shutdown(container: Container) -> None:
    """Close every resource the container opened (engine, pools, session); safe to call twice."""
    await _maybe_await(container.shutdown_resources())


async def _maybe_await(result: object) -> None:
    if inspect.isawaitable(result):
        await result
