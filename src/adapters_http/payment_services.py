"""What the payments API and the Mercado Pago notification endpoint need, in one value.

One field of :class:`~adapters_http.services.HttpServices` (``payment_services``) holds it, so
the payments routes add a single dependency there rather than one per use case.
"""

from __future__ import annotations

import attrs

from integration_core.use_cases.payment_notifications import ReceivePaymentNotification
from integration_core.use_cases.payment_refunds import RefundPayment
from integration_core.use_cases.payments import CreatePayment, GetPayment
from integration_core.use_cases.seller_accounts import SellerAccounts


@attrs.frozen(kw_only=True)
class PaymentServices:
    """The payment use cases of the API and the notification endpoint."""

    create: CreatePayment
    get: GetPayment
    refund: RefundPayment
    sellers: SellerAccounts
    receive_notification: ReceivePaymentNotification
