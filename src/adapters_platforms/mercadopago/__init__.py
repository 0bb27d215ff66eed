"""Mercado Pago: Checkout Pro, card payments, refunds, merchant orders and sellers' OAuth tokens.

:class:`MercadoPagoGateway` implements :class:`integration_core.ports.PaymentGateway` over the
shared aiohttp session, through the one platform transport (:mod:`adapters_platforms.calls`);
``tests/fakes/fake_mercadopago.py`` is the local server it is tested on.
"""

from adapters_platforms.mercadopago.bodies import BackUrls
from adapters_platforms.mercadopago.gateway import (
    DEFAULT_BASE_URL,
    DEFAULT_RETRIES,
    MercadoPagoGateway,
)
from adapters_platforms.mercadopago.resources import (
    MerchantOrder,
    MerchantOrderPayment,
    SellerProfile,
)
from adapters_platforms.mercadopago.setup import MercadoPagoSetup

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RETRIES",
    "BackUrls",
    "MercadoPagoGateway",
    "MercadoPagoSetup",
    "MerchantOrder",
    "MerchantOrderPayment",
    "SellerProfile",
]
