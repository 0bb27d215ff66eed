"""Meta's Graph APIs: WhatsApp Cloud API, Messenger and Instagram messaging setup.

:class:`MetaGraphClient` speaks the Facebook graph (pinned version), :class:`InstagramGraphClient`
the Instagram graph of Instagram Login accounts; the ``*Setup`` classes implement
:class:`integration_core.ports.ChannelSetup` on top of them.
"""

from adapters_platforms.meta_graph.graph_client import MetaGraphClient
from adapters_platforms.meta_graph.instagram import InstagramSetup
from adapters_platforms.meta_graph.instagram_client import InstagramGraphClient
from adapters_platforms.meta_graph.messenger import MessengerSetup
from adapters_platforms.meta_graph.values import (
    FacebookPage,
    GranularScope,
    InstagramUser,
    PhoneNumber,
    TokenInfo,
)
from adapters_platforms.meta_graph.whatsapp import WhatsAppSetup

__all__ = [
    "FacebookPage",
    "GranularScope",
    "InstagramGraphClient",
    "InstagramSetup",
    "InstagramUser",
    "MessengerSetup",
    "MetaGraphClient",
    "PhoneNumber",
    "TokenInfo",
    "WhatsAppSetup",
]
