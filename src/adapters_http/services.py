"""Everything the HTTP adapter needs, handed over by the composition root in one value.

Handlers read ``request.app[SERVICES]``; nothing is looked up from module globals. To give the
next routes a new dependency, add a required field here rather than a new ``AppKey``: every
field is required, so no route carries a "not wired" branch, and a test fills the ones it does
not care about with in-memory fakes (``tests/integration/http/conftest.py``, ``make_services``).
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
from integration_core.ports import Clock, EventLog, IntegrationStore
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
    """The dependencies of every route, middleware and guard of the HTTP adapter; all required.

    *receive_webhook* is the webhook intake. *verify_tokens* are each Meta channel's
    ``*_VERIFY_TOKEN`` (several allow a rotation); a channel without one accepts only its
    integrations' own verify tokens (fail closed). The integration use cases
    (*connect_integration* ... *refresh_integration_token*) back the integrations API;
    *connect_integration_once* honours a setup's ``Idempotency-Key``. *payment_services* backs
    the payments API and Mercado Pago notifications: an instance without Mercado Pago still
    passes one, whose seller lookup answers ``503 payments_not_configured``.
    """

    settings: HttpSettings
    clock: Clock
    check_health: CheckHealth
    authenticator: JwtAuthenticator
    rate_limiter: RateLimiter
    registry: prometheus_client.CollectorRegistry
    integrations: IntegrationStore
    events: EventLog
    receive_webhook: ReceiveWebhook
    verify_tokens: Mapping[Channel, tuple[Secret, ...]]
    connect_integration: ConnectIntegration
    connect_integration_once: ConnectIntegrationOnce
    list_integrations: ListIntegrations
    get_integration: GetIntegration
    update_integration: UpdateIntegration
    disconnect_integration: DisconnectIntegration
    send_test_message: SendTestMessage
    refresh_integration_token: RefreshIntegrationToken
    get_tawkto_config: GetTawkToConfig
    update_tawkto_config: UpdateTawkToConfig
    tawkto_reports: TawkToReports
    payment_services: PaymentServices


SERVICES: Final = web.AppKey("services", HttpServices)
