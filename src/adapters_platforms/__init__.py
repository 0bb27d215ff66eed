"""Clients of the outside world: messaging platforms, Mercado Pago, the messaging service, Vault.

One package per counterpart, each implementing ports of ``integration_core``; all of them share
one aiohttp client session, configurable base URLs and timeouts.
"""
