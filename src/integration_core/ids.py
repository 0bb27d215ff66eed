"""Identifiers: prefixed, time-ordered, URL-safe.

A 48-bit millisecond timestamp followed by 80 random bits, in Crockford base32 (the ULID layout),
so ids sort by creation time and a listing can page on the id alone.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Final, NewType

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
    value = (millis << 80) | int.from_bytes(random_bytes(10))
    return f"{prefix}_{''.join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])}"


_SHIFTS = tuple(range(120, -1, -10))  # 13 pairs: the 130 bits of 26 characters, high first

_POOL_BYTES: Final = 4096


class _RandomPool:
    """The operating system's random bytes, read 4 KiB at a time.

    Several ids are made per webhook delivery; one ``getrandom`` call each cost more than the
    rest of making the id (a syscall, slow under some hypervisors). The bytes are the same
    cryptographic ones ``secrets`` hands out, only fetched in bulk; the lock keeps two threads
    from ever sharing a slice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._at + count > len(self._buffer):
                self._buffer, self._at = os.urandom(_POOL_BYTES), 0
            start = self._at
            self._at += count
            return self._buffer[start : self._at]


_POOL = _RandomPool()


def random_bytes(count: int) -> bytes:
    """Return *count* (at most 4096) cryptographically random bytes, from a per-process pool.

    After ``os.fork`` the child must not reuse the parent's pool: :func:`os.register_at_fork`
    gives it a fresh one.
    """
    return _POOL.take(count)


def _fresh_pool_after_fork() -> None:
    global _POOL  # noqa: PLW0603 - the one process-wide pool, replaced in a forked child
    _POOL = _RandomPool()


os.register_at_fork(after_in_child=_fresh_pool_after_fork)


def is_id(value: str, prefix: str) -> bool:
    """Tell whether *value* has the shape of an id :func:`new_id` makes with *prefix*.

    Lets an untrusted path segment be refused before it reaches a lookup (or a database that
    refuses some characters outright).
    """
    head, sep, tail = value.partition("_")
    return bool(sep) and head == prefix and len(tail) == 26 and all(c in _CHARS for c in tail)


_CHARS = frozenset(_ALPHABET)
