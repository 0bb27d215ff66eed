"""Read typed values out of the environment and collect every problem instead of stopping.

An operator who fixes one variable only to be told about the next is the failure this module
prevents: each reader records a ``VAR: problem`` line and returns a default so that loading can
go on, and the caller raises one :class:`~integration_core.errors.ConfigurationError` at the end.
Values of secret variables never appear in a problem.

Durations are written the way operators expect (``24h``, ``10d``): Go's ``time.ParseDuration``
syntax (``1h30m``, ``1.5h``, ``300ms``), because the original service read ``JWT_EXPIRY`` with
it, plus days and weeks, which Go lacks; a bare number means seconds. Database URLs built from
``DB_*`` parts name the async drivers we ship; a pasted ``DATABASE_URL`` is rewritten to them by
:func:`adapters_db.engine.database_url`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

from adapters_db.engine import POSTGRES_DRIVER, SQLITE_DRIVER
from integration_core.credentials import Secret

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


class EnvReader:
    """Typed access to an environment mapping; blank values count as unset."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []
        self.notes: list[str] = []

    def problem(self, name: str, message: str) -> None:
        """Record that variable *name* is wrong, saying why in *message*."""
        self.problems.append(f"{name}: {message}")

    def note(self, message: str) -> None:
        """Record a start-up warning about the environment (an ignored or overridden variable)."""
        self.notes.append(message)

    def is_set(self, name: str) -> bool:
        """Tell whether *name* has a non-blank value."""
        return bool(self._env.get(name, "").strip())

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return the trimmed value of *name*, or *default* when unset or blank."""
        value = self._env.get(name, "").strip()
        return value or default

    def secret(self, name: str) -> Secret | None:
        """Return *name* as a :class:`Secret` (not trimmed inside), or ``None`` when unset."""
        value = self._env.get(name, "")
        return Secret(value.strip()) if value.strip() else None

    def secrets(self, name: str) -> tuple[Secret, ...]:
        """Return a comma-separated list of secrets (current first, then previous ones)."""
        return tuple(Secret(item) for item in self.items(name))

    def key(self, name: str, decode: Callable[[str], bytes]) -> Secret | None:
        """Return *name* as a :class:`Secret` that *decode* accepts; ``None`` if unset or not."""
        secret = self.secret(name)
        if secret is None or not self._decodes(name, secret, decode):
            return None
        return secret

    def keys(self, name: str, decode: Callable[[str], bytes]) -> tuple[Secret, ...]:
        """Return the comma-separated secrets of *name* that *decode* accepts."""
        return tuple(
            key
            for index, key in enumerate(self.secrets(name), start=1)
            if self._decodes(f"{name} (item {index})", key, decode)
        )

    def _decodes(self, label: str, secret: Secret, decode: Callable[[str], bytes]) -> bool:
        try:
            decode(secret.reveal())
        except ValueError as exc:  # the decoders' messages describe the shape, never the key
            self.problem(label, str(exc))
            return False
        return True

    def items(self, name: str) -> tuple[str, ...]:
        """Return a comma-separated list, trimmed, blanks dropped."""
        return tuple(item.strip() for item in self._env.get(name, "").split(",") if item.strip())

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        """Return *name* as an integer in ``[minimum, maximum]``."""
        return self._parse(name, default, lambda v: _bounded(int(v), minimum, maximum))

    def optional_integer(
        self, name: str, *, minimum: int, maximum: int | None = None
    ) -> int | None:
        """Return *name* as an integer in ``[minimum, maximum]``, or ``None`` when unset."""
        return self._parse(name, None, lambda v: _bounded(int(v), minimum, maximum))

    def number(self, name: str, default: float, *, positive: bool = True) -> float:
        """Return *name* as a finite float, greater than zero when *positive*."""

        def convert(value: str) -> float:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("must be a finite number")
            if positive and number <= 0:
                raise ValueError("must be greater than 0")
            return number

        return self._parse(name, default, convert)

    def boolean(self, name: str, default: bool) -> bool:
        """Return *name* as a boolean (true/false, 1/0, yes/no, on/off)."""

        def convert(value: str) -> bool:
            lowered = value.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"{value!r} is not a boolean (use true or false)")

        return self._parse(name, default, convert)

    def duration(self, name: str, default: timedelta, *, positive: bool = False) -> timedelta:
        """Return *name* as a duration (``90s``, ``30m``, ``24h``, ``10d``, plain seconds)."""

        def convert(value: str) -> timedelta:
            duration = parse_duration(value)
            if positive and not duration:
                raise ValueError("must be longer than 0s")
            return duration

        return self._parse(name, default, convert)

    def durations(self, name: str, default: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        """Return a non-empty comma-separated list of durations."""

        def convert(value: str) -> tuple[timedelta, ...]:
            parts = [part.strip() for part in value.split(",")]
            if not all(parts):
                raise ValueError("has an empty item")
            return tuple(parse_duration(part) for part in parts)

        return self._parse(name, default, convert)

    def choice(self, name: str, default: T, choices: Mapping[str, T]) -> T:
        """Return the value *choices* maps the lower-cased text of *name* to."""

        def convert(value: str) -> T:
            try:
                return choices[value.lower()]
            except KeyError:
                allowed = ", ".join(sorted(choices))
                raise ValueError(f"{value!r} is not one of: {allowed}") from None

        return self._parse(name, default, convert)

    def url(
        self, name: str, default: str | None = None, *, schemes: Iterable[str] = ("http", "https")
    ) -> str | None:
        """Return *name* as an absolute URL with one of *schemes*, trailing slash removed."""
        allowed = tuple(schemes)

        def convert(value: str) -> str:
            parts = urlsplit(value)
            if parts.scheme not in allowed or not (parts.netloc or parts.path):
                raise ValueError(f"must be a URL starting with {' or '.join(allowed)}://")
            return value.rstrip("/")

        return self._parse(name, default, convert)

    def _parse(self, name: str, default: T, convert: Callable[[str], T]) -> T:
        value = self.text(name)
        if value is None:
            return default
        try:
            return convert(value)
        except InvalidDuration as exc:
            self.problem(name, str(exc))
        except ValueError as exc:
            message = str(exc)
            if message.startswith("invalid literal") or message.startswith("could not convert"):
                message = f"{value!r} is not a number"
            self.problem(name, message)
        return default


def _bounded(value: int, minimum: int, maximum: int | None) -> int:
    if value < minimum:
        raise ValueError(f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum}")
    return value


# --------------------------------------------------------------------------- durations
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


# --------------------------------------------------------------------------- database URLs
DEFAULT_SQLITE_FILE = "integration-service.db"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def postgres_url(
    *, host: str, port: int, name: str, user: str, password: str | None, ssl_mode: str
) -> str:
    """Build a psycopg URL from parts, quoting each so any character is safe in a password."""
    credentials = quote(user, safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    netloc_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return (
        f"{POSTGRES_DRIVER}://{credentials}@{netloc_host}:{port}/{quote(name, safe='')}"
        f"?sslmode={quote(ssl_mode, safe='')}"
    )


def sqlite_url(path: Path) -> str:
    """Return the aiosqlite URL of the database file at *path* (made absolute)."""
    return f"{SQLITE_DRIVER}:///{path.resolve()}"


def sqlite_path(url: str) -> Path | None:
    """Return the file of an SQLite *url*, or ``None`` for another database or ``:memory:``."""
    scheme, _, rest = url.partition("://")
    if scheme != SQLITE_DRIVER:
        return None
    database = unquote(rest.removeprefix("/").partition("?")[0])
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def hide_password(url: str) -> str:
    """Return *url* with its password replaced by ``***``, safe for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()
