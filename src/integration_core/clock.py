"""The real clock; tests use :class:`integration_core.testing.FrozenClock`."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Tell the time from the operating system, always timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current time in UTC."""
        return datetime.now(UTC)
