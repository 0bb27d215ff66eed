"""Tawk.to: a REST client (property lookup) and the Tawk.to channel setup."""

from adapters_platforms.tawkto.client import Property, TawkToClient
from adapters_platforms.tawkto.setup import TawkToSetup

__all__ = ["Property", "TawkToClient", "TawkToSetup"]
