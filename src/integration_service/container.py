"""The object graph of the service: with :mod:`.wiring`, the only code that knows adapters.

A dependency-injector :class:`Container` declares the whole graph: the HTTP side, the payments
wiring and a worker process's background loops. Nothing is injected by decorators (no
``@inject``, no ``Provide[...]``); every command opens the container one way,
``async with open_container(settings) as container``, and asks it for what it needs
(:func:`resolve`). Resources with a lifetime (the database engine, the rate limiter's Redis
pool, the outgoing HTTP client session) are ``providers.Resource`` async generators, so closing
the container closes each of them exactly once. What depends on optional configuration (the
messaging service) is provided as ``None`` when it is not set.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, TypeVar

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db.events import SqlEventStore
from adapters_db.health import DatabaseProbe
from adapters_db.idempotency import SqlIdempotencyStore
from adapters_db.integrations import SqlIntegrationStore
from adapters_db.payment_notifications import SqlPaymentNotificationStore
from adapters_db.payments import SqlPaymentStore
from adapters_http.services import HttpServices
from adapters_http.webhook_paths import WEBHOOK_CHANNELS
from adapters_observability.forward_metrics import ForwardMetrics
from adapters_observability.payment_metrics import NotificationMetrics
from adapters_observability.pool_metrics import PoolMetrics
from adapters_observability.registry import metrics_registry
from adapters_observability.rotation_metrics import TokenRotationMetrics
from adapters_observability.setup_metrics import SetupMetrics
from adapters_observability.split_metrics import SplitMetrics
from integration_core.channels import Channel
from integration_core.clock import SystemClock
from integration_core.own_secrets import OwnSecrets
from integration_core.routing_cache import CachingDirectory, notify_all
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
from integration_core.use_cases.payment_notifications import ProcessPaymentNotifications
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.replay import ReplayEvents
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce
from integration_core.use_cases.splitting import SplitDeliveries
from integration_core.use_cases.tawkto_config import GetTawkToConfig, UpdateTawkToConfig
from integration_core.use_cases.tawkto_reports import TawkToReports
from integration_core.use_cases.token_rotation import RotateTokens
from integration_service.loops import NotificationWorker, TokenRotationScheduler, Wakeup
from integration_service.roles import background
from integration_service.settings import Settings
from integration_service.wiring import (
    MeasuredConnectIntegration,
    authenticator,
    channel_setups,
    credential_store,
    database_engine,
    event_inbox,
    forward_events,
    health_probes,
    http_session,
    http_settings,
    mercadopago_gateway,
    message_forwarder,
    migration_probe,
    payment_services,
    rate_limiter,
    rotation_policy,
    seller_accounts,
    watched_credentials,
    webhook_verifiers,
)

T = TypeVar("T")


class Container(containers.DeclarativeContainer):
    """The object graph of one service process; build it with ``Container(settings=...)``."""

    settings = providers.Dependency(instance_of=Settings)

    engine = providers.Resource(database_engine, settings=settings)
    rate_limiter = providers.Resource(rate_limiter, settings=settings)
    session = providers.Resource(http_session)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(metrics_registry)

    # Lookups that every split delivery and signature check makes read through caches over
    # their own store object; writes go through `integrations`, which tells both caches.
    lookups = providers.Singleton(SqlIntegrationStore, engine=engine)
    stored_credentials = providers.Resource(credential_store, settings=settings, engine=engine)
    # Integrations' own webhook secrets in memory: a signature is checked without I/O. It
    # forgets an integration the moment this process changes it or its secrets.
    own_secrets = providers.Singleton(
        OwnSecrets, find=lookups.provided.find, credentials=stored_credentials, clock=clock
    )
    credentials = providers.Singleton(
        watched_credentials, inner=stored_credentials, own_secrets=own_secrets
    )
    # Webhook routing: a few seconds of caching takes the lookup off the hot path.
    directory = providers.Singleton(CachingDirectory, directory=lookups, clock=clock)
    integrations = providers.Singleton(
        SqlIntegrationStore,
        engine=engine,
        on_change=providers.Callable(
            notify_all, directory.provided.forget, own_secrets.provided.forget
        ),
    )
    # The doorbell of this process's forwarding workers: the event store rings it after a
    # commit that queued an event (a split, a token or payment event, a replay).
    wakeup = providers.Singleton(Wakeup)
    events = providers.Singleton(SqlEventStore, engine=engine, on_queued=wakeup.provided.ring)
    inbox = providers.Resource(event_inbox, engine=engine)
    payments = providers.Singleton(SqlPaymentStore, engine=engine)

    forwarder = providers.Singleton(
        message_forwarder, settings=settings, session=session, clock=clock
    )
    # A Factory: every worker gets its own use case, so each has its own concurrency limit.
    forward_events = providers.Factory(
        forward_events, settings=settings, events=events, forwarder=forwarder, clock=clock
    )
    forward_metrics = providers.Singleton(ForwardMetrics, registry=registry)

    database_probe = providers.Singleton(DatabaseProbe, engine=engine)
    pool_metrics = providers.Singleton(PoolMetrics, registry=registry, engine=engine)
    migrations = providers.Singleton(migration_probe, settings=settings)
    check_health = providers.Singleton(
        CheckHealth,
        probes=providers.Callable(health_probes, settings, session, database_probe, migrations),
        integrations=integrations,
        configuration=providers.Callable(Settings.summary, settings),
    )

    # Intake: verify and spool in the request; split into events in the worker stage. The
    # spool's doorbell wakes this process's splitter at once, the outbox's its forwarders.
    spool_wakeup = providers.Singleton(Wakeup)
    receive_webhook = providers.Singleton(
        ReceiveWebhook,
        inbox=inbox,
        own_secrets=own_secrets,
        clock=clock,
        verifiers=providers.Callable(webhook_verifiers, clock=clock),
        secrets=settings.provided.platforms.webhook_secrets,
        on_spooled=spool_wakeup.provided.ring,
    )
    split_deliveries = providers.Singleton(
        SplitDeliveries,
        inbox=inbox,
        directory=directory,
        own_secrets=own_secrets,
        clock=clock,
        batch_size=settings.provided.messaging.batch_size,
        lease=settings.provided.messaging.lease,
        on_queued=wakeup.provided.ring,
        # The splitter forwards what it just stored itself (None: forwarding is off).
        forward=forward_events,
    )
    # Replay (the CLI's; the API's replay route builds one over its own stores).
    replay_events = providers.Singleton(ReplayEvents, events=events, clock=clock, inbox=inbox)
    split_metrics = providers.Singleton(
        SplitMetrics, registry=registry, channels=providers.Object(WEBHOOK_CHANNELS)
    )

    # The integrations API: onboarding and management over the platforms' setups.
    setups = providers.Singleton(channel_setups, settings=settings, session=session, clock=clock)
    setup_metrics = providers.Singleton(
        SetupMetrics, registry=registry, channels=providers.Object(tuple(Channel))
    )
    connect_integration = providers.Singleton(
        MeasuredConnectIntegration,
        metrics=setup_metrics,
        integrations=integrations,
        credentials=credentials,
        setups=setups,
        clock=clock,
        base_url=settings.provided.server.base_url,
    )
    idempotency = providers.Singleton(SqlIdempotencyStore, engine=engine)
    connect_integration_once = providers.Singleton(
        ConnectIntegrationOnce,
        connect=connect_integration,
        idempotency=idempotency,
        credentials=credentials,
        clock=clock,
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
        events=events,
        setups=setups,
        clock=clock,
    )
    # Token rotation (the scheduler of worker/all processes, and `rotate-tokens`).
    rotate_tokens = providers.Singleton(
        RotateTokens,
        integrations=integrations,
        credentials=credentials,
        events=events,
        setups=setups,
        clock=clock,
        policy=providers.Callable(rotation_policy, settings),
    )
    rotation_metrics = providers.Singleton(TokenRotationMetrics, registry=registry, clock=clock)

    # Mercado Pago payments: the API's use cases and the notification worker's, one gateway.
    payment_notifications = providers.Singleton(SqlPaymentNotificationStore, engine=engine)
    gateway = providers.Singleton(
        mercadopago_gateway, settings=settings, session=session, clock=clock
    )
    sellers = providers.Singleton(
        seller_accounts, settings=settings, integrations=integrations, credentials=credentials
    )
    payment_services = providers.Singleton(
        payment_services,
        settings=settings,
        gateway=gateway,
        payments=payments,
        notifications=payment_notifications,
        events=events,
        sellers=sellers,
        clock=clock,
    )
    process_notifications = providers.Singleton(
        ProcessPaymentNotifications,
        notifications=payment_notifications,
        apply=providers.Singleton(
            ApplyProviderUpdate, payments=payments, gateway=gateway, events=events, clock=clock
        ),
        sellers=sellers,
        clock=clock,
        orders=gateway,
        payments=payments,
        ipn_window=settings.provided.mercadopago.ipn_window,
    )

    # The Tawk.to routes of the original service: config is the tenant's Tawk.to integration.
    get_tawkto_config = providers.Singleton(
        GetTawkToConfig, integrations=integrations, credentials=credentials
    )
    update_tawkto_config = providers.Singleton(
        UpdateTawkToConfig,
        integrations=integrations,
        credentials=credentials,
        setups=setups,
        clock=clock,
    )
    tawkto_reports = providers.Singleton(
        TawkToReports, integrations=integrations, events=events, clock=clock
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
        events=events,
        receive_webhook=receive_webhook,
        verify_tokens=settings.provided.platforms.verify_tokens,
        connect_integration=connect_integration,
        connect_integration_once=connect_integration_once,
        list_integrations=list_integrations,
        get_integration=get_integration,
        update_integration=update_integration,
        disconnect_integration=disconnect_integration,
        send_test_message=send_test_message,
        refresh_integration_token=refresh_integration_token,
        get_tawkto_config=get_tawkto_config,
        update_tawkto_config=update_tawkto_config,
        tawkto_reports=tawkto_reports,
        payment_services=payment_services,
    )

    # The background loops of a worker process (`serve --role worker` or `all`).
    poll_seconds = providers.Callable(
        timedelta.total_seconds, settings.provided.messaging.poll_interval
    )
    notification_worker = providers.Singleton(
        NotificationWorker,
        process=process_notifications,
        metrics=providers.Singleton(NotificationMetrics, registry=registry),
        poll_interval=poll_seconds,
    )
    token_rotation = providers.Singleton(
        TokenRotationScheduler,
        rotate=rotate_tokens,
        integrations=integrations,
        metrics=rotation_metrics,
        clock=clock,
        interval=providers.Callable(timedelta.total_seconds, settings.provided.rotation.interval),
    )
    background = providers.Singleton(
        background,
        settings=settings,
        split=split_deliveries,
        split_metrics=split_metrics,
        inbox=inbox,
        forwarder=forwarder,
        wakeup=wakeup,
        spool_wakeup=spool_wakeup,
        forward_metrics=forward_metrics,
        events=events,
        clock=clock,
        notifications=notification_worker,
        rotation=token_rotation,
        idempotency=idempotency,
    )


async def resolve(provider: providers.Provider[T]) -> T:
    """Return what *provider* provides, awaiting it when it depends on an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    return value  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def open_container(settings: Settings) -> AsyncIterator[Container]:
    """Yield the container of *settings* with its resources open; close them all on the way out.

    The one way every command (``serve`` in each role, ``migrate``, ``replay``, ``rotate-keys``,
    ``rotate-tokens``) builds the object graph.
    """
    container = Container(settings=settings)
    try:
        await _maybe_await(container.init_resources())
        yield container
    finally:
        await shutdown(container)


async def build_services(container: Container) -> HttpServices:
    """Initialize the container's resources and return the HTTP adapter's services."""
    await _maybe_await(container.init_resources())
    # Read at scrape time: registering the collector is all it needs.
    await resolve(container.pool_metrics)
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
