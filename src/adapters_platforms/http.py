"""The one aiohttp client session every platform client shares, and its error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5, sock_read=20)


@asynccontextmanager
async def client_session(
    *, user_agent: str = "integration-service", limit: int = 100
) -> AsyncIterator[aiohttp.ClientSession]:
    """Open the shared client session for the lifetime of the process and close it after.

    *limit* caps concurrent connections across all platforms; each call sets its own timeout.
    """
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=DEFAULT_TIMEOUT,
        headers={"User-Agent": user_agent},
        raise_for_status=False,
    )
    try:
        yield session
    finally:
        await session.close()


# Failures that mean "could not talk to the other side", as opposed to an answer we dislike.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)
