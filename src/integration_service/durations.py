"""Parse and format the human durations operators write in the environment (``24h``, ``10d``).

Go's ``time.ParseDuration`` syntax (``1h30m``, ``1.5h``, ``300ms``) is accepted because the
original service read ``JWT_EXPIRY`` with it, plus days (``10d``) and weeks (``2w``), which Go lacks
and operators expect for token lifetimes; a bare number means seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

_UNITS: dict[str, Decimal] = {
    "us": Decimal("0.000001"),
    "µs": Decimal("0.000001"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(604800),
}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_LONGEST = Decimal(100 * 365 * 86400)  # a century: anything longer is a typo
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(us|µs|ms|s|m|h|d|w)")


class InvalidDuration(ValueError):
    """The text is not a duration."""


def parse_duration(text: str) -> timedelta:
    """Return the non-negative duration *text* names, e.g. ``90s``, ``30m``, ``1h30m``, ``10d``.

    Raises :class:`InvalidDuration` with a message that repeats *text* (durations are never
    secret) for anything else, including negative values.
    """
    value = text.strip().lower()
    if not value:
        raise InvalidDuration("empty duration")
    if value.startswith("-"):
        raise InvalidDuration(f"{text!r} is negative")
    seconds = Decimal(value) if _NUMBER.fullmatch(value) else _parse_units(value, text)
    if seconds > _LONGEST:
        raise InvalidDuration(f"{text!r} is too long")
    return timedelta(microseconds=int((seconds * 1_000_000).to_integral_value()))


def _parse_units(value: str, original: str) -> Decimal:
    position = 0
    total = Decimal(0)
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        total += Decimal(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(value) or position == 0:
        raise InvalidDuration(
            f"{original!r} is not a duration (use e.g. 90s, 30m, 24h, 10d or plain seconds)"
        )
    return total


def format_duration(duration: timedelta) -> str:
    """Return *duration* in the shortest form :func:`parse_duration` reads back (``1d2h``)."""
    micros = duration // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError("negative durations have no text form here")
    if micros == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, micros = divmod(micros, size * 1_000_000)
        if count:
            parts.append(f"{count}{unit}")
    if micros:
        parts.append(f"{micros}us")
    return "".join(parts)
