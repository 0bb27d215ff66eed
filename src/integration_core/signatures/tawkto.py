"""Tawk.to: ``X-Tawk-Signature``, the hex HMAC-SHA1 of the raw body keyed by the webhook secret.

SHA1 (not SHA256), over the bytes as received (not re-serialized JSON): public code gets both wrong.
There is no timestamp; retries share ``X-Hook-Event-Id`` and are deduplicated on it elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures._hmac import check_hex_hmac, hex_digest, hmac_hex
from integration_core.webhooks import WebhookRequest

HEADER = "X-Tawk-Signature"
"""The header that carries the signature."""

_HEX_LENGTH = 40


def sign(secret: Secret, body: bytes) -> str:
    """Return the ``X-Tawk-Signature`` value Tawk.to would send for *body* under *secret*.

    Tawk.to publishes no test vector, so tests and local replays build their own with this.
    """
    return hmac_hex(secret.reveal().encode(), body, "sha1").decode()


def verify(body: bytes, signature: str | None, secrets: Sequence[Secret]) -> None:
    """Return if the hex *signature* signs the raw *body* under one of *secrets*.

    Hex is accepted in either case. Raise :class:`InvalidSignature` otherwise, an empty
    *secrets* included.
    """
    if signature is None or not signature.strip():
        raise InvalidSignature(f"missing {HEADER} header")
    given = hex_digest(signature.strip(), _HEX_LENGTH)
    if given is None:
        raise InvalidSignature(f"{HEADER} is not a hex SHA1 digest")
    check_hex_hmac(given, body, secrets, "sha1")


class TawkToWebhookVerifier:
    """Check ``X-Tawk-Signature`` on Tawk.to deliveries."""

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if one of *secrets* signed *request*'s body; else :class:`InvalidSignature`."""
        verify(request.body, request.header(HEADER), secrets)


__all__ = ["HEADER", "TawkToWebhookVerifier", "sign", "verify"]
