"""Mercado Pago: Checkout Pro, card payments, refunds, merchant orders and sellers' OAuth tokens.

:class:`MercadoPagoGateway` implements :class:`integration_core.ports.PaymentGateway` over the
shared aiohttp session; ``tests/fakes/fake_mercadopago.py`` is the local server it is tested on.
"""

from adapters_platforms.mercadopago.bodies import BackUrls
from adapters_platforms.mercadopago.gateway import DEFAULT_BASE_URL, MercadoPagoGateway
from adapters_platforms.mercadopago.resources import (
    MerchantOrder,
    MerchantOrderPayment,
    SellerProfile,
)
from adapters_platforms.mercadopago.setup import MercadoPagoSetup
from adapters_platforms.mercadopago.transport import Backoff

__all__ = [
    "DEFAULT_BASE_URL",
    "BackUrls",
    "Backoff",
    "MercadoPagoGateway",
    "MercadoPagoSetup",
    "MerchantOrder",
    "MerchantOrderPayment",
    "SellerProfile",
]
