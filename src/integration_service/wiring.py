"""Build each adapter from the settings: the recipes the DI container assembles.

Kept apart from :mod:`.container` so the container reads as the object graph alone; like the
container, this module may know every concrete class (it is the composition root). Here too is
what only the composition root can write: the setup use case measured with the HTTP adapter's
error codes, and the list of a worker process's background loops.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.credentials import SqlCredentialStore
from adapters_db.engine import create_engine
from adapters_db.health import MigrationProbe
from adapters_db.inbox import SqlEventInbox
from adapters_http.auth import JwtAuthenticator
from adapters_http.errors import DOMAIN_ERRORS
from adapters_http.payment_services import PaymentServices
from adapters_http.rate_limit import SCOPE_IP, SCOPE_TENANT, SCOPE_WEBHOOK, Rate, RateLimiter
from adapters_http.services import HttpSettings
from adapters_observability.setup_metrics import CONNECTED, SetupMetrics
from adapters_platforms.http import client_session
from adapters_platforms.mercadopago import MercadoPagoGateway, MercadoPagoSetup
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
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, IntegrationServiceError
from integration_core.ids import TenantId
from integration_core.own_secrets import OwnSecrets, WatchedCredentials
from integration_core.ports import (
    ChannelSetup,
    Clock,
    CredentialStore,
    EventStore,
    HealthProbe,
    IntegrationStore,
    MessageForwarder,
    PaymentNotificationStore,
    PaymentStore,
    WebhookVerifier,
)
from integration_core.signatures import (
    MercadoPagoWebhookVerifier,
    MetaWebhookVerifier,
    StandardWebhooksVerifier,
    TawkToWebhookVerifier,
    TelegramWebhookVerifier,
)
from integration_core.use_cases.forwarding import ForwardEvents, RetryPolicy
from integration_core.use_cases.onboarding import ConnectedIntegration, ConnectIntegration
from integration_core.use_cases.payment_notifications import ReceivePaymentNotification
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payments import CreatePayment, GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts
from integration_core.use_cases.token_rotation import RotationPolicy
from integration_core.webhook_urls import WebhookUrls
from integration_service import __version__
from integration_service.settings import CredentialStoreKind, Settings


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
        Channel.INSTAGRAM: InstagramSetup(graph=graph, instagram=instagram, clock=clock),
        Channel.TELEGRAM: TelegramSetup(client=telegram),
        Channel.TAWKTO: TawkToSetup(session=session, base_url=settings.tawkto.base_url),
        Channel.MERCADOPAGO: MercadoPagoSetup(
            gateway=mercadopago_gateway(settings, session, clock), clock=clock
        ),
    }


def mercadopago_gateway(
    settings: Settings, session: aiohttp.ClientSession, clock: Clock
) -> MercadoPagoGateway:
    """Talk to Mercado Pago with ``MP_ACCESS_TOKEN`` (a tenant's own token where it has one)."""
    mp = settings.mercadopago
    return MercadoPagoGateway(
        session=session,
        base_url=mp.api_base_url,
        access_token=mp.access_token,
        client_id=mp.client_id,
        client_secret=mp.client_secret,
        sandbox=mp.environment == "sandbox",
        clock=clock,
    )


def payment_notification_url(settings: Settings) -> str:
    """Return where Mercado Pago notifies payments: ``MP_WEBHOOK_URL``, else ours under BASE_URL."""
    configured = settings.mercadopago.webhook_url
    if configured:
        return configured
    return WebhookUrls(settings.server.base_url).mercadopago()


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


UNEXPECTED: Final = "internal_error"


def outcome_of(error: Exception | None) -> str:
    """Return the outcome label for a setup that raised *error* (``None``: it connected)."""
    if error is None:
        return CONNECTED
    if isinstance(error, IntegrationServiceError):
        for cls in type(error).__mro__:  # the most specific class in the table wins
            if issubclass(cls, IntegrationServiceError) and cls in DOMAIN_ERRORS:
                return DOMAIN_ERRORS[cls].code
    return UNEXPECTED


class MeasuredConnectIntegration(ConnectIntegration):
    """:class:`ConnectIntegration` that counts and times every setup it runs.

    A subclass rather than a wrapper because the HTTP services and
    :class:`~integration_core.use_cases.setup_idempotency.ConnectIntegrationOnce` take a
    ``ConnectIntegration``; it changes nothing but the measuring.
    """

    def __init__(self, *, metrics: SetupMetrics, **use_case: Any) -> None:
        super().__init__(**use_case)
        self._metrics = metrics

    async def __call__(
        self,
        tenant_id: TenantId,
        channel: Channel,
        *,
        credentials: Mapping[str, Secret],
        config: Mapping[str, str],
    ) -> ConnectedIntegration:
        """Run the setup; record its outcome and duration whatever happens (not cancellation)."""
        started = time.perf_counter()
        try:
            connected = await super().__call__(
                tenant_id, channel, credentials=credentials, config=config
            )
        except Exception as exc:
            self._metrics.observe(channel, outcome_of(exc), time.perf_counter() - started)
            raise
        self._metrics.observe(channel, CONNECTED, time.perf_counter() - started)
        return connected


def rotation_policy(settings: Settings) -> RotationPolicy:
    """Build the rotation policy from ``TOKEN_REFRESH_MARGIN`` and the ``TOKEN_*`` settings."""
    rotation = settings.rotation
    return RotationPolicy(
        margin=settings.platforms.token_refresh_margin,
        probe_interval=rotation.probe_interval,
        cooldown=rotation.cooldown,
        max_cooldown=rotation.max_cooldown,
        max_failures=rotation.max_failures,
    )


def seller_accounts(
    settings: Settings, integrations: IntegrationStore, credentials: CredentialStore
) -> SellerAccounts:
    """Find whose Mercado Pago account a payment is on (ours, with ``MP_ACCESS_TOKEN`` set)."""
    return SellerAccounts(
        integrations=integrations,
        credentials=credentials,
        service_account=settings.mercadopago.access_token is not None,
    )


def payment_services(
    *,
    settings: Settings,
    gateway: MercadoPagoGateway,
    payments: PaymentStore,
    notifications: PaymentNotificationStore,
    events: EventStore,
    sellers: SellerAccounts,
    clock: Clock,
) -> PaymentServices:
    """Return the payments API's use cases over the one gateway the notification worker shares."""
    mp = settings.mercadopago
    return PaymentServices(
        create=CreatePayment(
            payments=payments,
            gateway=gateway,
            clock=clock,
            notification_url=payment_notification_url(settings),
        ),
        get=GetPayment(payments=payments),
        refund=RefundPayment(payments=payments, gateway=gateway, events=events, clock=clock),
        sellers=sellers,
        receive_notification=ReceivePaymentNotification(
            notifications=notifications,
            verifier=MercadoPagoWebhookVerifier(
                clock=clock, tolerance_seconds=mp.webhook_tolerance_seconds or None
            ),
            secrets=mp.webhook_secrets,
            clock=clock,
            ipn_enabled=mp.ipn_enabled,
            ipn_window=mp.ipn_window,
        ),
    )


async def event_inbox(engine: AsyncEngine) -> AsyncIterator[SqlEventInbox]:
    """Create the spool of raw deliveries; close its appends' connections at shutdown."""
    inbox = SqlEventInbox(engine=engine)
    try:
        yield inbox
    finally:
        await inbox.aclose()


def watched_credentials(*, inner: CredentialStore, own_secrets: OwnSecrets) -> WatchedCredentials:
    """Return *inner* watched, so that every secret written makes *own_secrets* forget it."""
    watched = WatchedCredentials(inner)
    watched.listen(own_secrets.forget)
    return watched
