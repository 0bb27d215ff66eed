"""TAWKTO_BASE_URL works as the original service wrote it (the host) and as we do (``/v1``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters_platforms.tawkto import Property, TawkToClient
from adapters_platforms.tawkto.client import api_root
from integration_core.credentials import Secret

from ...fakes.fake_tawkto import FakeTawkTo

API_KEY = "tawk-base-url-key-7e21"


@pytest.fixture
async def tawkto() -> AsyncIterator[FakeTawkTo]:
    async with FakeTawkTo() as fake:
        fake.add_key(API_KEY, {"prop-base-1": "Base site"})
        yield fake


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_the_credential_check_works_with_or_without_v1(
    tawkto: FakeTawkTo, session: aiohttp.ClientSession, suffix: str
) -> None:
    api = TawkToClient(session=session, base_url=tawkto.url + suffix, api_key=Secret(API_KEY))

    assert await api.find_property("prop-base-1") == Property(id="prop-base-1", name="Base site")
    assert [call.path for call in tawkto.calls] == ["/v1/property.list"]


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://api.tawk.to", "https://api.tawk.to/v1"),
        ("https://api.tawk.to/", "https://api.tawk.to/v1"),
        ("https://api.tawk.to/v1", "https://api.tawk.to/v1"),
        ("https://api.tawk.to/v1/", "https://api.tawk.to/v1"),
        ("https://api.tawk.to/v2", "https://api.tawk.to/v2"),
        ("http://proxy.internal/tawk", "http://proxy.internal/tawk/v1"),
        ("http://proxy.internal/tawk/v1", "http://proxy.internal/tawk/v1"),
    ],
)
def test_api_root_adds_v1_only_when_no_version_is_given(given: str, root: str) -> None:
    assert api_root(given) == root
