"""Per-integration Meta verify tokens: generated at setup, found again by their hash.

A tenant whose own Meta app points at our callback URL types a verify token into Meta's
dashboard; the handshake ``GET`` carries that token but no account id, so the integration is
found by the token itself. Its config keeps only the SHA-256 of the token (one lookup, nothing
worth stealing: the token is 256 random bits, so the hash cannot be reversed); the token is a
credential, encrypted at rest like every other secret.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from integration_core.credentials import Secret

VERIFY_TOKEN_FIELD: Final = "verify_token"  # noqa: S105 - a credential's name, not a secret
"""The credential that holds a Meta integration's own verify token."""

VERIFY_TOKEN_DIGEST: Final = "verify_token_sha256"  # noqa: S105 - a config key, not a secret
"""The config key that holds the hex SHA-256 of the integration's verify token."""

_PREFIX: Final = "vt_"


def new_verify_token() -> Secret:
    """Return a fresh verify token: ``vt_`` and 43 URL-safe characters (256 random bits)."""
    return Secret(_PREFIX + secrets.token_urlsafe(32))


def token_digest(token: bytes) -> str:
    """Return the hex SHA-256 of a verify token's UTF-8 bytes, as kept in the config."""
    return hashlib.sha256(token).hexdigest()
