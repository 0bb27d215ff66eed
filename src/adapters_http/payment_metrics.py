"""Prometheus metrics of the payments API and of Mercado Pago notification intake.

The worker side is counted where the workers run: notifications by processing outcome in
``adapters_observability.payment_metrics``, notification-to-forward latency in
``adapters_observability.forward_metrics``.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter


class PaymentMetrics:
    """Payments created, refunds, and notifications received, on *registry*."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.created = Counter(
            "integration_payments_created_total",
            "Payments created through the API, by kind (checkout, card).",
            ("kind",),
            registry=registry,
        )
        self.refunds = Counter(
            "integration_payment_refunds_total",
            "Refunds made through the API, by kind (total, partial).",
            ("kind",),
            registry=registry,
        )
        self.notifications = Counter(
            "integration_payment_notifications_received_total",
            "Mercado Pago notifications received, by result (stored, duplicate, ignored, "
            "refused, disabled: a legacy IPN while MP_IPN_ENABLED is off).",
            ("result",),
            registry=registry,
        )
        for kind in ("checkout", "card"):
            self.created.labels(kind=kind)
        for kind in ("total", "partial"):
            self.refunds.labels(kind=kind)
        for result in ("stored", "duplicate", "ignored", "refused", "disabled"):
            self.notifications.labels(result=result)


PAYMENT_METRICS: Final = web.AppKey("payment_metrics", PaymentMetrics)
