"""The switch every in-memory store has: set ``available = False`` to play a lost database."""

from __future__ import annotations

from integration_core.errors import StorageUnavailable


class OutageSwitch:
    """Mixed into a fake store: every method calls :meth:`_check` first."""

    available: bool = True

    def _check(self) -> None:
        if not self.available:
            raise StorageUnavailable()
