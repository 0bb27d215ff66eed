"""Byte-level helpers every signature scheme shares: keys, hex, base64, constant-time matching.

Each helper answers ``None`` for input it cannot use instead of raising, so a scheme's
``verify`` turns every malformed header into one :class:`InvalidSignature` and nothing else;
:func:`check_hex_hmac`, the last step of the body-signing schemes, raises that error itself.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable, Sequence

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature

NOT_CONFIGURED = "no webhook secret is configured"
MISMATCH = "the signature does not match"

_HEX = re.compile(r"[0-9a-fA-F]*")


def utf8(value: str) -> bytes | None:
    """Return *value* as UTF-8, or ``None`` if it holds lone surrogates.

    aiohttp decodes header bytes with ``surrogateescape``, so a hostile header can reach us as a
    ``str`` that does not encode; it must end as a rejected signature, not a ``UnicodeError``.
    """
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return None


def usable_keys(secrets: Sequence[Secret]) -> list[bytes]:
    """Return the UTF-8 bytes of every non-empty, encodable secret in *secrets*.

    An empty secret is dropped rather than used: an HMAC (or a token compare) with an empty key
    is something anyone can produce, so a blank configuration must fail closed.
    """
    keys = []
    for secret in secrets:
        key = utf8(secret.reveal())
        if key:
            keys.append(key)
    return keys


def hex_digest(value: str, length: int) -> bytes | None:
    """Return *value* lower-cased as ASCII if it is exactly *length* hex digits, else ``None``.

    Platforms send lowercase hex, but accepting either case costs nothing and matches what
    their own SDKs tolerate.
    """
    if len(value) != length or _HEX.fullmatch(value) is None:
        return None
    return value.lower().encode("ascii")


def b64decode(value: str, *, canonical: bool) -> bytes | None:
    """Return the bytes of standard base64 *value* (padding optional), or ``None`` if invalid.

    With *canonical*, also refuse encodings whose unused trailing bits are set: they decode to
    the same bytes as the canonical one, so without this a changed signature character could
    still verify.
    """
    if not value.isascii():
        return None
    stripped = value.rstrip("=")
    if len(stripped) % 4 == 1:
        return None
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return None
    if canonical and base64.b64encode(raw).decode("ascii").rstrip("=") != stripped:
        return None
    return raw


def hmac_hex(key: bytes, message: bytes, digest: str) -> bytes:
    """Return the lowercase hex HMAC of *message* under *key* with *digest* (``"sha256"``)."""
    return hmac.new(key, message, digest).hexdigest().encode("ascii")


def any_equal(given: Iterable[bytes], expected: Iterable[bytes]) -> bool:
    """Tell whether any of *given* equals any of *expected*, comparing in constant time.

    Every pair is compared (no early exit), so the time taken does not reveal which secret of a
    rotation list matched.
    """
    expected = list(expected)
    found = False
    for candidate in given:
        for value in expected:
            found |= hmac.compare_digest(candidate, value)
    return found


def check_hex_hmac(given: bytes, body: bytes, secrets: Sequence[Secret], digest: str) -> None:
    """Return if the hex *given* is the *digest* HMAC of *body* under one of *secrets*.

    Raise :class:`InvalidSignature` otherwise, an empty *secrets* included (see
    :func:`usable_keys`).
    """
    keys = usable_keys(secrets)
    if not keys:
        raise InvalidSignature(NOT_CONFIGURED)
    if not any_equal([given], (hmac_hex(key, body, digest) for key in keys)):
        raise InvalidSignature(MISMATCH)
