"""Identifiers: prefixed, time-ordered, URL-safe.

A 48-bit millisecond timestamp followed by 80 random bits, in Crockford base32 (the ULID layout),
so ids sort by creation time and a listing can page on the id alone.
"""

from __future__ import annotations

import secrets
import time
from typing import NewType

TenantId = NewType("TenantId", str)

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """Return a new ``<prefix>_<26 chars>`` id that sorts after ids made earlier.

    *prefix* names the kind of resource (``evt``, ``int``, ``pay``); *now_ms* pins the time part
    (tests and replays).
    """
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
