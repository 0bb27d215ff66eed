"""Standard Webhooks: our webchat callbacks in, our forwarded events out.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space
separated ``v1,<base64>`` entries, several during a key rotation). The signed content is
``{id}.{timestamp}.{body}``; the key is the base64 secret after its ``whsec_`` prefix; the MAC
is HMAC-SHA256 in standard base64. Timestamps more than five minutes (by default) from now are
refused so a captured delivery cannot be replayed later. Spec:
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from secrets import token_bytes

from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError, InvalidSignature
from integration_core.ports import Clock
from integration_core.signatures._hmac import MISMATCH, NOT_CONFIGURED, any_equal, b64decode, utf8
from integration_core.webhooks import WebhookRequest

ID_HEADER = "webhook-id"
"""The header that carries the message id (the idempotency key)."""
TIMESTAMP_HEADER = "webhook-timestamp"
"""The header that carries the Unix time in seconds the message was signed at."""
SIGNATURE_HEADER = "webhook-signature"
"""The header that carries the space-separated ``v1,<base64>`` signatures."""
SECRET_PREFIX = "whsec_"  # noqa: S105 - a format marker, not a secret
"""The prefix of a secret's text form; the rest is the base64 key."""
DEFAULT_TOLERANCE = timedelta(minutes=5)
"""How far a timestamp may be from now, either way: the reference libraries' default."""

_VERSION = "v1"
_SECRET_BYTES = 32
_MAX_TS_DIGITS = 15  # far beyond any real date; keeps int() cheap on hostile input


def new_secret() -> str:
    """Return a fresh signing secret, ``whsec_`` + base64 of 32 random bytes.

    The official libraries read this form, so the same string configures both ends.
    """
    return SECRET_PREFIX + base64.b64encode(token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: Secret) -> bytes | None:
    """Return the HMAC key of *secret* (``whsec_`` prefix optional), or ``None`` if unusable."""
    text = secret.reveal().strip()
    text = text.removeprefix(SECRET_PREFIX)
    return b64decode(text, canonical=False) or None


def _mac(key: bytes, msg_id: bytes, timestamp: str, body: bytes) -> bytes:
    """Return the raw HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}`` under *key*."""
    return hmac.new(key, msg_id + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()


def sign(secret: Secret, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value (``v1,<base64>``) for one message.

    *timestamp* is Unix seconds and *body* the exact bytes that will be sent. Raise
    :class:`ConfigurationError` if *secret* is not a base64 key: it is our own configuration.
    """
    key = _key(secret)
    if key is None:
        raise ConfigurationError("the webhook signing secret is not whsec_<base64>")
    mac = _mac(key, msg_id.encode(), str(timestamp), body)
    return f"{_VERSION},{base64.b64encode(mac).decode('ascii')}"


def headers(secret: Secret, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the three headers that sign an outgoing message (our forwarded events).

    *msg_id* is stable across retries so the receiver can deduplicate on it.
    """
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, msg_id, timestamp, body),
    }


def _timestamp(value: str) -> int | None:
    """Return header *value* as Unix seconds, or ``None`` if it is not a plain integer."""
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_TS_DIGITS:
        return None
    return int(value)


def _signatures(value: str) -> list[bytes]:
    """Return the decoded ``v1`` signatures of header *value*; other versions are skipped."""
    found = []
    for entry in value.split():
        version, sep, encoded = entry.partition(",")
        if sep and version == _VERSION:
            raw = b64decode(encoded, canonical=True)
            if raw is not None:
                found.append(raw)
    return found


def verify(
    body: bytes,
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    secrets: Sequence[Secret],
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Return if one ``v1`` entry of *signature* signs *body* with *msg_id* and *timestamp*.

    The three are the raw header values. *timestamp* must lie within *tolerance* of *now*,
    either way. Raise :class:`InvalidSignature` otherwise, an empty *secrets* included.
    """
    if not msg_id or not timestamp or not signature:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    seconds = _timestamp(timestamp.strip())
    if seconds is None:
        raise InvalidSignature("webhook-timestamp is not Unix seconds")
    drift = now.timestamp() - seconds
    if drift > tolerance.total_seconds():
        raise InvalidSignature("webhook-timestamp is too old")
    if -drift > tolerance.total_seconds():
        raise InvalidSignature("webhook-timestamp is too new")
    given = _signatures(signature)
    if not given:
        raise InvalidSignature("webhook-signature has no v1 signature")
    id_bytes = utf8(msg_id)
    if id_bytes is None:
        raise InvalidSignature("webhook-id is not valid text")
    keys = [key for key in map(_key, secrets) if key is not None]
    if not keys:
        raise InvalidSignature(NOT_CONFIGURED)
    expected = (_mac(key, id_bytes, timestamp.strip(), body) for key in keys)
    if not any_equal(given, expected):
        raise InvalidSignature(MISMATCH)


class StandardWebhooksVerifier:
    """Check Standard Webhooks signatures (our webchat widget's callbacks).

    *tolerance* bounds how far ``webhook-timestamp`` may be from *clock*'s time.
    """

    def __init__(self, *, clock: Clock, tolerance: timedelta = DEFAULT_TOLERANCE) -> None:
        self._clock = clock
        self._tolerance = tolerance

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> None:
        """Return if one of *secrets* signed *request*; else :class:`InvalidSignature`."""
        verify(
            request.body,
            msg_id=request.header(ID_HEADER),
            timestamp=request.header(TIMESTAMP_HEADER),
            signature=request.header(SIGNATURE_HEADER),
            secrets=secrets,
            now=self._clock.now(),
            tolerance=self._tolerance,
        )


__all__ = [
    "DEFAULT_TOLERANCE",
    "ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "StandardWebhooksVerifier",
    "headers",
    "new_secret",
    "sign",
    "verify",
]
