"""Read typed values out of the environment and collect every problem instead of stopping.

An operator who fixes one variable only to be told about the next is the failure this module
prevents: each reader records a ``VAR: problem`` line and returns a default so that loading can
go on, and the caller raises one :class:`~integration_core.errors.ConfigurationError` at the end.
Values of secret variables never appear in a problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from integration_core.credentials import Secret
from integration_service.durations import InvalidDuration, parse_duration

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


class EnvReader:
    """Typed access to an environment mapping; blank values count as unset."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def problem(self, name: str, message: str) -> None:
        """Record that variable *name* is wrong, saying why in *message*."""
        self.problems.append(f"{name}: {message}")

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

    def items(self, name: str) -> tuple[str, ...]:
        """Return a comma-separated list, trimmed, blanks dropped."""
        return tuple(item.strip() for item in self._env.get(name, "").split(",") if item.strip())

    def integer(self, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        """Return *name* as an integer in ``[minimum, maximum]``."""
        return self._parse(name, default, lambda v: _bounded(int(v), minimum, maximum))

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
