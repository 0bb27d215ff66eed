"""TawkToClient against the fake Tawk.to REST API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters_platforms.tawkto import Property, TawkToClient
from integration_core.credentials import Secret
from integration_core.errors import (
    IntegrationServiceError,
    InvalidCredentials,
    InvalidInput,
    PlatformRateLimited,
    PlatformUnavailable,
)

from ...fakes.fake_tawkto import FakeTawkTo, basic_credentials
from .platform_support import RecordingSleep, assert_secret_free, fast_retry

API_KEY = "tawk-rest-api-key-4f1c2b9e8d7a6b5c"
PROPERTY = "5f1a2b3c4d5e6f7a8b9c0d1e"


@pytest.fixture
async def tawkto() -> AsyncIterator[FakeTawkTo]:
    async with FakeTawkTo() as fake:
        fake.add_key(API_KEY, {PROPERTY: "Acme site", "60aa": "Acme profile"})
        yield fake


def client(
    session: aiohttp.ClientSession,
    tawkto: FakeTawkTo,
    key: str = API_KEY,
    sleep: RecordingSleep | None = None,
) -> TawkToClient:
    return TawkToClient(
        session=session, base_url=tawkto.api_url, api_key=Secret(key), retry=fast_retry(sleep)
    )


async def test_list_and_find_properties(tawkto: FakeTawkTo, session: aiohttp.ClientSession) -> None:
    api = client(session, tawkto)
    assert await api.list_properties() == (
        Property(id=PROPERTY, name="Acme site"),
        Property(id="60aa", name="Acme profile"),
    )
    assert await api.find_property(PROPERTY) == Property(id=PROPERTY, name="Acme site")
    assert await api.find_property("unknown") is None
    call = tawkto.calls[0]
    assert (call.method, call.path, call.json) == ("POST", "/v1/property.list", {})
    login, password = basic_credentials(call.headers["Authorization"])
    assert login == API_KEY
    assert password  # Tawk.to refuses an empty one


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, InvalidCredentials),
        (403, InvalidCredentials),
        (429, PlatformRateLimited),
        (500, PlatformUnavailable),
        (422, InvalidInput),
    ],
)
async def test_statuses_map_to_domain_errors(
    tawkto: FakeTawkTo,
    session: aiohttp.ClientSession,
    status: int,
    expected: type[IntegrationServiceError],
) -> None:
    tawkto.fail_next(3, status=status)
    with pytest.raises(expected) as caught:
        await client(session, tawkto).list_properties()
    assert type(caught.value) is expected
    assert f"HTTP {status}" in caught.value.message


async def test_an_unknown_key_is_invalid_credentials(
    tawkto: FakeTawkTo, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(InvalidCredentials, match="Unauthorized"):
        await client(session, tawkto, key="some-other-key-0000").list_properties()
    assert len(tawkto.calls) == 1


async def test_ok_false_under_a_200_is_a_refused_request(
    tawkto: FakeTawkTo, session: aiohttp.ClientSession
) -> None:
    tawkto.fail_next(1, status=200, body={"ok": False, "error": {"message": "bad type"}})
    with pytest.raises(InvalidInput, match="bad type"):
        await client(session, tawkto).list_properties()


async def test_the_listing_is_a_read_so_it_is_retried(
    tawkto: FakeTawkTo, session: aiohttp.ClientSession
) -> None:
    tawkto.fail_next(1, status=503)
    tawkto.fail_next(1, status=429, headers={"Retry-After": "1"})
    sleep = RecordingSleep()
    assert len(await client(session, tawkto, sleep=sleep).list_properties()) == 2
    assert len(tawkto.calls) == 3
    assert sleep.waits[1] == 1.0


async def test_timeouts_are_unavailable(tawkto: FakeTawkTo, session: aiohttp.ClientSession) -> None:
    tawkto.stall_next(3, seconds=1.0)
    api = TawkToClient(
        session=session,
        base_url=tawkto.api_url,
        api_key=Secret(API_KEY),
        retry=fast_retry(timeout=0.2),
    )
    with pytest.raises(PlatformUnavailable, match=r"Tawk.to POST /property.list: timed out"):
        await api.list_properties()


async def test_the_api_key_never_leaks(tawkto: FakeTawkTo, session: aiohttp.ClientSession) -> None:
    tawkto.fail_next(3, status=500, body={"ok": False, "error": f"key {API_KEY} is broken"})
    with capture_logs() as logs, pytest.raises(PlatformUnavailable) as caught:
        await client(session, tawkto).list_properties()
    assert "is broken" in caught.value.message
    assert logs
    assert_secret_free([API_KEY], str(caught.value), logs=logs)
