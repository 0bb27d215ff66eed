"""Meta (WhatsApp Cloud API, Messenger, Instagram): ``X-Hub-Signature-256`` and the GET handshake.

Each POST carries ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed by
the App Secret. Meta signs the bytes it sends (``\\u00e9`` escapes, ``\\/``), so the body must be
hashed exactly as received, never re-serialized. There is no timestamp: replays are handled by
deduplicating on message ids, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures._hmac import (
    any_equal,
    check_hex_hmac,
    hex_digest,
    hmac_hex,
    usable_keys,
    utf8,
)
from integration_core.webhooks import WebhookRequest

HEADER = "X-Hub-Signature-256"
"""The header that carries the signature."""

_PREFIX = "sha256"
_HEX_LENGTH = 64


def sign(secret: Secret, body: bytes) -> str:
    """Return the ``X-Hub-Signature-256`` value Meta would send for *body* under *secret*.

    Useful to build test deliveries and local replays of captured payloads.
    """
    return f"{_PREFIX}={hmac_hex(secret.reveal().encode(), body, 'sha256').decode()}"


def verify(body: bytes, signature: str | None, secrets: Sequence[Secret]) -> None:
    """Return if *signature* signs the raw *body* under one of *secrets*.

    *signature* is the header value (``sha256=<hex>``; prefix and hex in any case). Several
    *secrets* cover rotation and Instagram, whose app secret differs from the Facebook one.
    Raise :class:`InvalidSignature` otherwise, an empty *secrets* included.
    """
    if signature is None or not signature.strip():
        raise InvalidSignature(f"missing {HEADER} header")
    scheme, sep, digest = signature.strip().partition("=")
    if not sep or not scheme.isascii() or scheme.strip().lower() != _PREFIX:
        raise InvalidSignature(f"{HEADER} is not sha256=<hex>")
    given = hex_digest(digest.strip(), _HEX_LENGTH)
    if given is None:
        raise InvalidSignature(f"{HEADER} is not sha256=<hex>")
    check_hex_hmac(given, body, secrets, "sha256")


def parse_challenge(query: Mapping[str, str]) -> tuple[bytes, str]:
    """Return the verify token (UTF-8 bytes) and the challenge of the setup GET in *query*.

    Raise :class:`InvalidSignature` for a mode other than ``subscribe``, a missing token or
    challenge, or a token that is not valid text.
    """
    if query.get("hub.mode") != "subscribe":
        raise InvalidSignature("hub.mode is not subscribe")
    token = query.get("hub.verify_token")
    if not token:
        raise InvalidSignature("missing hub.verify_token")
    challenge = query.get("hub.challenge")
    if not challenge:
        raise InvalidSignature("missing hub.challenge")
    given = utf8(token)
    if given is None:
        raise InvalidSignature("hub.verify_token is not valid text")
    return given, challenge


def verify_challenge(query: Mapping[str, str], verify_tokens: Sequence[Secret]) -> str:
    """Return ``hub.challenge`` if the setup GET in *query* carries one of *verify_tokens*.

    Meta proves it owns the callback URL with ``hub.mode=subscribe`` and the verify token typed
    into its dashboard; the HTTP layer echoes the returned challenge as the bare body. Raise
    :class:`InvalidSignature` (answered 403) for a wrong mode, a wrong or missing token, a
    missing challenge, or an empty *verify_tokens*.
    """
    given, challenge = parse_challenge(query)
    keys = usable_keys(verify_tokens)
    if not keys:
        raise InvalidSignature("no verify token is configured")
    if not any_equal([given], keys):
        raise InvalidSignature("hub.verify_token does not match")
    return challenge


class MetaWebhookVerifier:
    """Check ``X-Hub-Signature-256`` on WhatsApp, Messenger and Instagram deliveries."""

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if one of *secrets* signed *request*'s body; else :class:`InvalidSignature`."""
        verify(request.body, request.header(HEADER), secrets)


__all__ = [
    "HEADER",
    "MetaWebhookVerifier",
    "parse_challenge",
    "sign",
    "verify",
    "verify_challenge",
]
