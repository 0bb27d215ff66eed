"""Fixtures every platform client test uses: one client session, the fake Meta account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters_platforms.http import client_session

from ...fakes.fake_meta import FakeMeta
from .meta_support import seed


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield the shared client session, closed after the test."""
    async with client_session() as opened:
        yield opened


@pytest.fixture
async def meta() -> AsyncIterator[FakeMeta]:
    """Yield a fake Meta serving the shared account (modules may override it)."""
    async with FakeMeta() as fake:
        seed(fake)
        yield fake
