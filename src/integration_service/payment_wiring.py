"""Wire Mercado Pago payments: the gateway, the use cases, the API's services, the worker's.

One object the container builds once, so the container holds a single payments provider and
the HTTP side and the notification worker share one gateway, one seller lookup and one
:class:`ApplyProviderUpdate`.
"""

from __future__ import annotations

import aiohttp

from adapters_http.payment_services import PaymentServices
from integration_core.ports import (
    Clock,
    CredentialStore,
    EventStore,
    IntegrationStore,
    PaymentNotificationStore,
    PaymentStore,
)
from integration_core.signatures.mercadopago import MercadoPagoWebhookVerifier
from integration_core.use_cases.payment_notifications import (
    ProcessPaymentNotifications,
    ReceivePaymentNotification,
)
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payment_updates import ApplyProviderUpdate
from integration_core.use_cases.payments import CreatePayment, GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts
from integration_service.builders import mercadopago_gateway, payment_notification_url
from integration_service.settings import Settings


class PaymentWiring:
    """Everything payments need, built from the settings and the shared stores."""

    def __init__(
        self,
        *,
        settings: Settings,
        session: aiohttp.ClientSession,
        clock: Clock,
        payments: PaymentStore,
        notifications: PaymentNotificationStore,
        events: EventStore,
        integrations: IntegrationStore,
        credentials: CredentialStore,
    ) -> None:
        mp = settings.mercadopago
        gateway = mercadopago_gateway(settings, session, clock)
        self.gateway = gateway
        sellers = SellerAccounts(
            integrations=integrations,
            credentials=credentials,
            service_account=mp.access_token is not None,
        )
        apply = ApplyProviderUpdate(payments=payments, gateway=gateway, events=events, clock=clock)
        self.services = PaymentServices(
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
        self.processor = ProcessPaymentNotifications(
            notifications=notifications,
            apply=apply,
            sellers=sellers,
            clock=clock,
            orders=gateway,
            payments=payments,
            ipn_window=mp.ipn_window,
        )
