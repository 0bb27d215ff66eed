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
# Every id is made on the webhook hot path: render 10 bits (two characters) per step.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """Return a new ``<prefix>_<26 chars>`` id that sorts after ids made earlier.

    *prefix* names the kind of resource (``evt``, ``int``, ``pay``); *now_ms* pins the time part
    (tests and replays).
    """
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | secrets.randbits(80)
    return f"{prefix}_{''.join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])}"


_SHIFTS = tuple(range(120, -1, -10))  # 13 pairs: the 130 bits of 26 characters, high first


def is_id(value: str, prefix: str) -> bool:
    """Tell whether *value* has the shape of an id :func:`new_id` makes with *prefix*.

    Lets an untrusted path segment be refused before it reaches a lookup (or a database that
    refuses some characters outright).
    """
    head, sep, tail = value.partition("_")
    return bool(sep) and head == prefix and len(tail) == 26 and all(c in _CHARS for c in tail)


_CHARS = frozenset(_ALPHABET)
