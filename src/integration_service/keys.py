"""Decode the key material operators put in the environment.

``ENCRYPTION_KEY`` may be written as 64 hex digits, standard or URL-safe base64 (with or without
padding) or 32 raw characters: the encodings have different lengths, so decoding is never
ambiguous. Error messages describe the shape of a bad key, never its value.
"""

from __future__ import annotations

import base64
import binascii
import re

KEY_BYTES = 32
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class InvalidKey(ValueError):
    """The key cannot be decoded; the message never contains the key."""


def decode_key(text: str) -> bytes:
    """Return the 32-byte AES-256 key encoded in *text* (hex, base64, URL-safe base64 or raw)."""
    value = text.strip()
    if len(value) == 2 * KEY_BYTES and _HEX.fullmatch(value):
        return bytes.fromhex(value)
    if len(value) in (43, 44) and _BASE64.fullmatch(value):
        decoded = decode_base64(value)
        if len(decoded) == KEY_BYTES:
            return decoded
    raw = value.encode()
    if len(raw) == KEY_BYTES:
        return raw
    raise InvalidKey(
        f"must be {KEY_BYTES} bytes: 64 hex digits, 44 base64 characters or {KEY_BYTES} raw "
        f"characters (got {len(value)} characters)"
    )


def decode_base64(value: str) -> bytes:
    """Return *value* decoded as standard or URL-safe base64, padding optional."""
    if not _BASE64.fullmatch(value):
        raise InvalidKey("is not base64")
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("is not base64") from None


def decode_signing_secret(text: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks ``whsec_<base64>`` secret."""
    value = text.strip()
    if not value.startswith(SIGNING_SECRET_PREFIX):
        raise InvalidKey(f"must start with {SIGNING_SECRET_PREFIX!r} followed by base64")
    key = decode_base64(value.removeprefix(SIGNING_SECRET_PREFIX))
    if len(key) < 16:
        raise InvalidKey(f"must hold at least 16 bytes after {SIGNING_SECRET_PREFIX!r}")
    return key


def encode_signing_secret(key: bytes) -> str:
    """Return *key* as a ``whsec_<base64>`` secret, the form Standard Webhooks libraries read."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(key).decode()
