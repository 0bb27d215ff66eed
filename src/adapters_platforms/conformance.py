"""Static proof that every channel setup here satisfies the port: mypy checks these assignments.

Nothing here runs; a setup that drifts from :class:`integration_core.ports.ChannelSetup` fails
``nox -s typecheck``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

    from adapters_platforms.meta_graph import (
        InstagramGraphClient,
        InstagramSetup,
        MessengerSetup,
        MetaGraphClient,
        WhatsAppSetup,
    )
    from adapters_platforms.tawkto import TawkToSetup
    from adapters_platforms.telegram import TelegramClient, TelegramSetup
    from integration_core import ports

    def _conforms(session: aiohttp.ClientSession) -> None:
        graph = MetaGraphClient(session=session)
        instagram = InstagramGraphClient(session=session)
        _whatsapp: ports.ChannelSetup = WhatsAppSetup(graph=graph)
        _messenger: ports.ChannelSetup = MessengerSetup(graph=graph)
        _instagram: ports.ChannelSetup = InstagramSetup(graph=graph, instagram=instagram)
        _telegram: ports.ChannelSetup = TelegramSetup(client=TelegramClient(session=session))
        _tawkto: ports.ChannelSetup = TawkToSetup(session=session)
