"""Build the HTTP app over the core's fakes and serve it on a real local server."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from adapters_http import (
    HttpServices,
    HttpSettings,
    JwtAuthenticator,
    Rate,
    RateLimiter,
    create_app,
    issue_token,
)
from adapters_http.access_log import ACCESS_LOGGER
from adapters_http.payment_services import PaymentServices
from adapters_http.webhook_paths import WEBHOOK_CHANNELS
from adapters_observability.split_metrics import SplitMetrics
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.own_secrets import OwnSecrets, WatchedCredentials
from integration_core.ports import CredentialStore, EventStore, IntegrationStore
from integration_core.routing_cache import CachingDirectory, notify_all
from integration_core.signatures import (
    MercadoPagoWebhookVerifier,
    MetaWebhookVerifier,
    StandardWebhooksVerifier,
    TawkToWebhookVerifier,
    TelegramWebhookVerifier,
)
from integration_core.testing import (
    FakePaymentGateway,
    FakeProbe,
    FrozenClock,
    InMemoryCredentialStore,
    InMemoryEventInbox,
    InMemoryEventStore,
    InMemoryIdempotencyStore,
    InMemoryIntegrationStore,
    InMemoryPaymentNotificationStore,
    InMemoryPaymentStore,
)
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
from integration_core.use_cases.payment_notifications import ReceivePaymentNotification
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payments import CreatePayment, GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce
from integration_core.use_cases.splitting import SplitDeliveries, SplitReport
from integration_core.use_cases.tawkto_config import GetTawkToConfig, UpdateTawkToConfig
from integration_core.use_cases.tawkto_reports import TawkToReports

# 64 bytes: PyJWT warns about HMAC keys shorter than the hash (tests also sign with HS512).
JWT_SECRET = Secret("test-jwt-secret-" + "0123456789abcdef" * 3)

# The platform-wide webhook secrets (*_WEBHOOK_SECRET) and Meta verify token of the test app.
META_APP_SECRET = Secret("meta-app-secret-current")
TAWKTO_SECRET = Secret("tawkto-webhook-secret")
VERIFY_TOKEN = Secret("meta-verify-token-0123456789")
WEBHOOK_SECRETS: Mapping[Channel, tuple[Secret, ...]] = {
    Channel.WHATSAPP: (META_APP_SECRET,),
    Channel.MESSENGER: (META_APP_SECRET,),
    Channel.INSTAGRAM: (META_APP_SECRET,),
    Channel.TAWKTO: (TAWKTO_SECRET,),
}

MakeServices = Callable[..., HttpServices]
MakeClient = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def jwt_secret() -> Secret:
    """Return the secret the test app verifies tokens with."""
    return JWT_SECRET


@pytest.fixture
def clock() -> FrozenClock:
    """Return the clock every fake and the authenticator share."""
    return FrozenClock()


@pytest.fixture(autouse=True)
def access_log_at_info() -> Iterator[None]:
    """Log requests at INFO, as ``configure_logging("info")`` does in the service: the access
    log checks the stdlib level before it builds a line."""
    logger = logging.getLogger(ACCESS_LOGGER)
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)


@pytest.fixture
def credentials() -> WatchedCredentials:
    """Return the credential store the webhook intake reads integrations' own secrets from,
    watched as the container watches it (a written secret is forgotten by the intake's cache)."""
    return WatchedCredentials(InMemoryCredentialStore())


@pytest.fixture
def database_probe() -> FakeProbe:
    """Return the critical probe the default health check runs."""
    return FakeProbe("database", critical=True)


@pytest.fixture
async def make_rate_limiter() -> AsyncIterator[Callable[..., RateLimiter]]:
    """Build rate limiters and close their Redis pools after the test."""
    made: list[RateLimiter] = []

    def make(**kwargs: Any) -> RateLimiter:
        kwargs.setdefault("rates", {"ip": Rate(rps=1000, burst=1000)})
        limiter = RateLimiter(**kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


# The worker stage of each HttpServices made here, by id(services): the tests' stand-in for
# the splitting worker a ``worker``/``all`` process runs (see :func:`drain_spool`).
SPLITTERS: dict[int, tuple[SplitDeliveries, SplitMetrics]] = {}
# The webhook secrets cache of each integration store made here, by id(store).
# (The store itself is kept too: an id is reused once its object is gone.)
SECRETS_OF: dict[int, tuple[Any, OwnSecrets, CachingDirectory]] = {}


async def drain_spool(services: HttpServices) -> list[SplitReport]:
    """Split every delivery the intake of *services* spooled, as the worker would (counting
    the outcomes on the services' registry, as the worker does on its process's)."""
    splitter, metrics = SPLITTERS[id(services)]
    reports: list[SplitReport] = []
    while (report := await splitter.run_once()).claimed:
        metrics.observe(report)
        reports.append(report)
    return reports


def in_memory_use_cases(
    *,
    integrations: IntegrationStore,
    events: EventStore,
    credentials: CredentialStore,
    clock: FrozenClock,
    connect: ConnectIntegration | None = None,
) -> dict[str, Any]:
    """Return every use case of HttpServices over the given stores, no platform behind them.

    No channel can be connected (no channel setups), and payments are as on an instance
    without Mercado Pago: no seller account (``503 payments_not_configured``) and no
    notification secret (every notification ``401``). *connect* is the setup use case the
    idempotent one wraps (a test's own, when it passes one).
    """
    stores: dict[str, Any] = {"integrations": integrations, "credentials": credentials}
    connect = connect or ConnectIntegration(
        **stores, setups={}, clock=clock, base_url="https://hooks.example.com"
    )
    payments, gateway = InMemoryPaymentStore(), FakePaymentGateway()
    return {
        "connect_integration": connect,
        "connect_integration_once": ConnectIntegrationOnce(
            connect=connect,
            idempotency=InMemoryIdempotencyStore(),
            credentials=credentials,
            clock=clock,
        ),
        "list_integrations": ListIntegrations(**stores),
        "get_integration": GetIntegration(**stores),
        "update_integration": UpdateIntegration(**stores, clock=clock),
        "disconnect_integration": DisconnectIntegration(**stores, setups={}),
        "send_test_message": SendTestMessage(**stores, setups={}),
        "refresh_integration_token": RefreshIntegrationToken(
            **stores, events=events, setups={}, clock=clock
        ),
        "get_tawkto_config": GetTawkToConfig(**stores),
        "update_tawkto_config": UpdateTawkToConfig(**stores, setups={}, clock=clock),
        "tawkto_reports": TawkToReports(integrations=integrations, events=events, clock=clock),
        "payment_services": PaymentServices(
            create=CreatePayment(payments=payments, gateway=gateway, clock=clock),
            get=GetPayment(payments=payments),
            refund=RefundPayment(payments=payments, gateway=gateway, events=events, clock=clock),
            sellers=SellerAccounts(**stores, service_account=False),
            receive_notification=ReceivePaymentNotification(
                notifications=InMemoryPaymentNotificationStore(),
                verifier=MercadoPagoWebhookVerifier(clock=clock),
                secrets=(),
                clock=clock,
            ),
        ),
    }


@pytest.fixture
def make_services(
    clock: FrozenClock,
    credentials: WatchedCredentials,
    database_probe: FakeProbe,
    make_rate_limiter: Callable[..., RateLimiter],
) -> MakeServices:
    """Return ``make(**overrides)`` building HttpServices over in-memory fakes.

    Every field is filled (the use cases by :func:`in_memory_use_cases`, over the same stores);
    a test passes the ones it cares about. Besides HttpServices' own fields, *probes* replaces
    the health probes, *settings* may be a dict of HttpSettings fields, *webhook_secrets*
    replaces the platform-wide webhook secrets (default :data:`WEBHOOK_SECRETS`), and *inbox*
    the in-memory spool. The webhook intake is the real :class:`ReceiveWebhook` with the real
    verifiers, over the same stores as the services and the ``credentials`` fixture, so a test
    seeds integrations and their secrets there.
    """

    def make(**overrides: Any) -> HttpServices:
        integrations = overrides.pop("integrations", InMemoryIntegrationStore())
        events = overrides.pop("events", InMemoryEventStore())
        probes = overrides.pop("probes", [database_probe])
        secrets = overrides.pop("webhook_secrets", WEBHOOK_SECRETS)
        settings = overrides.pop("settings", {})
        if isinstance(settings, dict):
            settings = HttpSettings(**{"service_version": "1.2.3-test", **settings})
        meta = MetaWebhookVerifier()
        # A test on a real database passes its own inbox (SqlEventInbox) with its stores.
        inbox = overrides.pop("inbox", None) or InMemoryEventInbox(events)
        known = SECRETS_OF.get(id(integrations))
        if known is not None and known[0] is integrations:  # made again over one store
            _, own_secrets, directory = known
        else:
            own_secrets = OwnSecrets(find=integrations.find, credentials=credentials, clock=clock)
            credentials.listen(own_secrets.forget)
            directory = CachingDirectory(directory=integrations, clock=clock)
            # As the container wires it: changes through the store make both caches forget.
            integrations.on_change = notify_all(directory.forget, own_secrets.forget)
            SECRETS_OF[id(integrations)] = (integrations, own_secrets, directory)
        intake = ReceiveWebhook(
            inbox=inbox,
            own_secrets=own_secrets,
            clock=clock,
            verifiers={
                Channel.WHATSAPP: meta,
                Channel.MESSENGER: meta,
                Channel.INSTAGRAM: meta,
                Channel.TELEGRAM: TelegramWebhookVerifier(),
                Channel.WEBCHAT: StandardWebhooksVerifier(clock=clock),
                Channel.TAWKTO: TawkToWebhookVerifier(),
            },
            secrets=secrets,
        )
        fields: dict[str, Any] = {
            "settings": settings,
            "clock": clock,
            "check_health": CheckHealth(probes=probes, integrations=integrations, timeout=1.0),
            "authenticator": JwtAuthenticator(secret=JWT_SECRET, clock=clock),
            "registry": CollectorRegistry(),
            "integrations": integrations,
            "events": events,
            "receive_webhook": intake,
            "verify_tokens": {
                Channel.WHATSAPP: (VERIFY_TOKEN,),
                Channel.MESSENGER: (VERIFY_TOKEN,),
                Channel.INSTAGRAM: (VERIFY_TOKEN,),
            },
        }
        fields.update(
            in_memory_use_cases(
                integrations=integrations,
                events=events,
                credentials=credentials,
                clock=clock,
                connect=overrides.get("connect_integration"),
            )
        )
        fields.update(overrides)
        if "rate_limiter" not in fields:
            fields["rate_limiter"] = make_rate_limiter()
        services = HttpServices(**fields)
        splitter = SplitDeliveries(
            inbox=inbox, directory=directory, own_secrets=own_secrets, clock=clock
        )
        metrics = SplitMetrics(registry=fields["registry"], channels=WEBHOOK_CHANNELS)
        SPLITTERS[id(services)] = (splitter, metrics)
        return services

    return make


@pytest.fixture
def make_client(aiohttp_client: Any, make_services: MakeServices) -> MakeClient:
    """Return ``await make_client(services=None, setup=None)``: a client of a real server.

    *setup* receives the app before it starts, to add test-only routes.
    """

    async def make(
        services: HttpServices | None = None,
        setup: Callable[[web.Application], None] | None = None,
    ) -> TestClient[web.Request, web.Application]:
        app = create_app(services if services is not None else make_services())
        if setup is not None:
            setup(app)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
def token_for(clock: FrozenClock) -> Callable[..., str]:
    """Return ``token_for(*scopes, tenant="t1")``: a valid token at the test clock's time."""

    def make(*scopes: str, tenant: str = "tenant-1", expires: timedelta | None = None) -> str:
        return issue_token(
            secret=JWT_SECRET,
            tenant_id=tenant,
            scopes=scopes,
            expires_in=expires or timedelta(hours=1),
            now=clock.now(),
        )

    return make


@pytest.fixture
def redis_url() -> str:
    """Return the Redis URL for shared-state tests; fail loudly if Redis is not there.

    CI runs a Redis service; locally, start one on 127.0.0.1:6379 or set ``TEST_REDIS_URL``.
    """
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    host_port = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        pytest.fail(f"these tests need Redis at {host_port} (set TEST_REDIS_URL): {exc}")
    if not answer.startswith(b"+PONG"):
        pytest.fail(f"{host_port} does not answer like Redis: {answer!r}")
    return url


@pytest.fixture
def key_prefix() -> str:
    """Return a Redis key prefix no other test uses."""
    return f"test-integration-service-{uuid.uuid4().hex}"


@pytest.fixture
def closed_port() -> int:
    """Return a local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
