"""Read a listing's query parameters, collecting every problem before refusing the request.

A client that sends ``?limit=500&status=done`` learns about both at once, in the
``invalid_request`` envelope's ``details.problems``. Unknown and repeated parameters are
refused too: a typo such as ``stauts=dead`` would otherwise silently list everything.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from multidict import MultiMapping

from integration_core.errors import InvalidInput
from integration_core.serialization import parse_datetime

E = TypeVar("E", bound=enum.Enum)


class QueryReader:
    """Parse named parameters of *query*; :meth:`finish` raises if any was wrong."""

    def __init__(self, query: MultiMapping[str]) -> None:
        self._query = query
        self._read: set[str] = set()
        self._problems: list[str] = []

    def text(self, name: str) -> str | None:
        """Return the parameter's value (``None`` when absent or empty)."""
        self._read.add(name)
        values = self._query.getall(name, [])
        if len(values) > 1:
            self._problems.append(f"{name} must be given at most once")
            return None
        return values[0] if values and values[0] != "" else None

    def choice(self, name: str, values: type[E]) -> E | None:
        """Return the parameter as a member of the enum *values*."""
        given = self.text(name)
        if given is None:
            return None
        try:
            return values(given)
        except ValueError:
            allowed = ", ".join(str(v.value) for v in values)
            self._problems.append(f"{name} must be one of: {allowed}")
            return None

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        """Return the parameter as an integer between *low* and *high* (both included)."""
        given = self.text(name)
        if given is None:
            return default
        # Plain ASCII digits only: int() would also take "5_0", " 5" and other scripts' digits.
        value = int(given) if given.isascii() and given.isdigit() else low - 1
        if not low <= value <= high:
            self._problems.append(f"{name} must be an integer between {low} and {high}")
            return default
        return value

    def timestamp(self, name: str) -> datetime | None:
        """Return the parameter as an aware datetime (RFC 3339 with a zone, ``Z`` allowed)."""
        given = self.text(name)
        if given is None:
            return None
        try:
            return parse_datetime(given.upper())  # RFC 3339 allows a lower-case "t" and "z"
        except ValueError:
            self._problems.append(
                f"{name} must be an RFC 3339 timestamp with a zone, like 2026-01-31T12:00:00Z"
            )
            return None

    def problem(self, message: str) -> None:
        """Record a problem found by the caller (such as two parameters that disagree)."""
        self._problems.append(message)

    def finish(self, *, also_allowed: Iterable[str] = ()) -> None:
        """Raise :class:`InvalidInput` listing every problem and every unknown parameter."""
        known = self._read | set(also_allowed)
        unknown = sorted({name for name in self._query if name not in known})
        problems = [*self._problems, *(f"{name} is not a known parameter" for name in unknown)]
        if problems:
            raise InvalidInput(
                "The query is not valid: " + "; ".join(problems) + ".",
                problems=tuple(problems),
            )
