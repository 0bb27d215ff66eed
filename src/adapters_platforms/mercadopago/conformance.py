"""Static proof that :class:`MercadoPagoGateway` satisfies the ``PaymentGateway`` port.

Nothing here runs; should the gateway drift from the Protocol, mypy (``nox -s typecheck``) fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters_platforms.mercadopago.gateway import MercadoPagoGateway
    from integration_core import ports

    def _conforms(gateway: MercadoPagoGateway) -> ports.PaymentGateway:
        return gateway
