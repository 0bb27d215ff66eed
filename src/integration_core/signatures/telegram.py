"""Telegram Bot API: the ``X-Telegram-Bot-Api-Secret-Token`` shared secret.

Telegram does not sign payloads. When ``setWebhook`` was given a ``secret_token``, every delivery
carries it verbatim in this header, so verification is a constant-time equality check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from secrets import token_urlsafe

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures._hmac import MISMATCH, NOT_CONFIGURED, any_equal, usable_keys, utf8
from integration_core.webhooks import WebhookRequest

HEADER = "X-Telegram-Bot-Api-Secret-Token"
"""The header that carries the secret token."""

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def new_secret_token() -> str:
    """Return a fresh random ``secret_token`` for ``setWebhook``.

    32 random bytes give 43 URL-safe characters, inside Telegram's 1-256 ``[A-Za-z0-9_-]`` rule;
    one per bot also lets the header identify the tenant.
    """
    return token_urlsafe(32)


def is_valid_secret_token(value: str) -> bool:
    """Tell whether Telegram accepts *value* as a ``secret_token`` (1-256 of ``[A-Za-z0-9_-]``).

    ``setWebhook`` rejects anything else, so check a tenant-supplied token before registering.
    """
    return _TOKEN.fullmatch(value) is not None


def sign(secret: Secret) -> str:
    """Return the header value Telegram sends for *secret*: the secret itself."""
    return secret.reveal()


def verify(token: str | None, secrets: Sequence[Secret]) -> None:
    """Return if the header value *token* equals one of *secrets* exactly.

    Raise :class:`InvalidSignature` otherwise, an empty *secrets* included.
    """
    if not token:
        raise InvalidSignature(f"missing {HEADER} header")
    given = utf8(token)
    if given is None:
        raise InvalidSignature(f"{HEADER} is not valid text")
    keys = usable_keys(secrets)
    if not keys:
        raise InvalidSignature(NOT_CONFIGURED)
    if not any_equal([given], keys):
        raise InvalidSignature(MISMATCH)


class TelegramWebhookVerifier:
    """Check ``X-Telegram-Bot-Api-Secret-Token`` on Telegram updates."""

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if *request* carries one of *secrets*; else :class:`InvalidSignature`."""
        verify(request.header(HEADER), secrets)


__all__ = [
    "HEADER",
    "TelegramWebhookVerifier",
    "is_valid_secret_token",
    "new_secret_token",
    "sign",
    "verify",
]
