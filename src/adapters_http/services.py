"""Everything the HTTP adapter needs, handed over by the composition root in one value.

Handlers read ``request.app[SERVICES]``; nothing is looked up from module globals. To give the
next routes a new dependency, add a field here (with a default if existing callers should not
change) rather than a new ``AppKey``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs
import prometheus_client
from aiohttp import web

from adapters_http.auth import JwtAuthenticator
from adapters_http.payment_services import PaymentServices
from adapters_http.rate_limit import RateLimiter
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.ports import Clock, EventLog, IntegrationStore, PaymentStore
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
from integration_core.use_cases.setup_idempotency import ConnectIntegrationOnce
from integration_core.use_cases.tawkto_config import GetTawkToConfig, UpdateTawkToConfig
from integration_core.use_cases.tawkto_reports import TawkToReports

ONE_MIB: Final = 1024 * 1024


@attrs.frozen(kw_only=True)
class HttpSettings:
    """How the HTTP side behaves; built from the environment by the composition root.

    *allowed_origins* are exact CORS origins (``https://app.example.com``) or ``*``.
    *max_body_bytes* caps every request body. *trust_proxy_headers* takes the client IP from the
    first ``X-Forwarded-For`` hop; set it only behind a proxy that overwrites that header.
    *rate_limit_exempt_routes* lists route templates (``/metrics``) the per-IP limit skips;
    empty by default, since the contract limits every route.
    """

    service_version: str
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = attrs.field(default=ONE_MIB, validator=attrs.validators.gt(0))
    trust_proxy_headers: bool = False
    cors_max_age_seconds: int = attrs.field(default=600, validator=attrs.validators.gt(0))
    rate_limit_exempt_routes: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class HttpServices:
    """The dependencies of every route, middleware and guard of the HTTP adapter.

    *receive_webhook* is the webhook intake; ``None`` (the default, so an app without webhooks
    is easy to build) answers every webhook delivery ``503`` so the platforms keep retrying
    until a correctly wired instance takes them: the composition root always passes it.
    *verify_tokens* are each Meta channel's ``*_VERIFY_TOKEN`` (several allow a rotation); a
    channel without one accepts only its integrations' own verify tokens (fail closed).
    The integration use cases (*connect_integration* ... *refresh_integration_token*) back the
    integrations API; one left ``None`` answers its routes ``503 service_unavailable``.
    *payment_services* backs the payments API and Mercado Pago notifications (``None``: 503).
    *connect_integration_once* honours a setup's ``Idempotency-Key``; without it the header is
    refused (``503``) rather than silently ignored.
    """

    settings: HttpSettings
    clock: Clock
    check_health: CheckHealth
    authenticator: JwtAuthenticator
    rate_limiter: RateLimiter
    registry: prometheus_client.CollectorRegistry
    integrations: IntegrationStore
    events: EventLog
    payments: PaymentStore
    receive_webhook: ReceiveWebhook | None = None
    verify_tokens: Mapping[Channel, tuple[Secret, ...]] = attrs.field(factory=dict)
    connect_integration: ConnectIntegration | None = None
    connect_integration_once: ConnectIntegrationOnce | None = None
    list_integrations: ListIntegrations | None = None
    get_integration: GetIntegration | None = None
    update_integration: UpdateIntegration | None = None
    disconnect_integration: DisconnectIntegration | None = None
    send_test_message: SendTestMessage | None = None
    refresh_integration_token: RefreshIntegrationToken | None = None
    get_tawkto_config: GetTawkToConfig | None = None
    update_tawkto_config: UpdateTawkToConfig | None = None
    tawkto_reports: TawkToReports | None = None
    payment_services: PaymentServices | None = None


SERVICES: Final = web.AppKey("services", HttpServices)
