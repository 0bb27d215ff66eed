"""The Telegram Bot API: a client and the Telegram :class:`~integration_core.ports.ChannelSetup`."""

from adapters_platforms.telegram.client import (
    ALLOWED_UPDATES,
    BotUser,
    TelegramClient,
    WebhookInfo,
)
from adapters_platforms.telegram.setup import TelegramSetup

__all__ = ["ALLOWED_UPDATES", "BotUser", "TelegramClient", "TelegramSetup", "WebhookInfo"]
