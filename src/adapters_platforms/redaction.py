"""Strip secrets from text about a platform call before it reaches an exception or a log line.

Platforms echo what they were sent ("Malformed access token EAAB..."), Telegram puts the bot
token in the URL path, Meta puts tokens in query strings (``input_token``, ``client_secret``,
``fb_exchange_token``) and Mercado Pago quotes tokens in its messages, so every message built
from a platform's answer or from a transport error passes through :func:`scrub` with the exact
secrets of that call. The patterns are the net under it, for a secret we were not told about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

REDACTED: Final = "[REDACTED]"

# Shorter values are not secrets worth masking, and masking them would mangle ordinary words.
_MIN_SECRET_LENGTH: Final = 6

_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # Telegram Bot API paths: /bot<id>:<secret>/<method>.
    (re.compile(r"/bot[^/\s]+"), f"/bot{REDACTED}"),
    # Telegram bot tokens anywhere else.
    (re.compile(r"\b\d{3,}:[A-Za-z0-9_-]{20,}"), REDACTED),
    # Query parameters that carry credentials: access_token, input_token, client_secret,
    # fb_exchange_token, secret_token, api_key, password...
    (
        re.compile(r"(?i)\b([a-z_]*(?:token|secret|key|password))=[^&\s\"']+"),
        rf"\1={REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=|-]+"), rf"\1 {REDACTED}"),
    # Meta user, page and system-user tokens; Instagram Login tokens.
    (re.compile(r"\b(?:EAA|IGAA|IGQ)[A-Za-z0-9_-]{16,}"), REDACTED),
    # Mercado Pago access tokens (production and test) and refresh tokens.
    (re.compile(r"\b(?:APP_USR|TEST|TG)-[A-Za-z0-9_-]{6,}"), REDACTED),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return *text* with every value of *secrets* and every secret-shaped part masked.

    Longer secrets are replaced first, so a secret that contains another is masked whole.
    """
    for secret in sorted(
        {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
