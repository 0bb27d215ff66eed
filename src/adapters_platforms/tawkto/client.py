"""The Tawk.to REST API (``https://api.tawk.to/v1``): RPC-style POSTs with a JSON body.

What we rely on, from the sources PLATFORMS.md section 3.2 cites (Pipedream's and n8n's
Tawk.to integrations; Tawk's own REST docs are gated behind a beta request):

- HTTP Basic auth, the REST API key as the username. The password is ignored but must not be
  empty, so we send ``"f"`` as Pipedream does.
- ``POST /property.list`` with ``{}`` lists the properties the key can see as
  ``{"data": [{"propertyId", "name", ...}]}``; that is the credential check.

Assumed, not verified: error bodies. We read ``error``/``message`` (text or ``{message}``) when
present and otherwise classify by status (401/403 credentials, 429 throttling, 5xx outage).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import attrs

from adapters_platforms.answers import Answer, Failure, status_failure, text_field
from adapters_platforms.calls import CallRetries, PlatformCaller, Request
from integration_core.credentials import Secret
from integration_core.errors import PlatformError

PLATFORM = "Tawk.to"
_VERSION: Final = re.compile(r"v\d+")
_PASSWORD: Final = "f"  # noqa: S105 - Tawk ignores it, but an empty one is refused


@attrs.frozen(kw_only=True)
class Property:
    """A Tawk.to property (a site or profile) the API key can see."""

    id: str
    name: str | None = None


def read_tawkto_failure(answer: Answer) -> Failure | None:
    """Return ``None`` for a 2xx that does not say ``ok: false``, else the failure it means."""
    data = answer.data if isinstance(answer.data, Mapping) else {}
    if answer.ok and data.get("ok") is not False:
        return None
    message = (
        text_field(data, "error", "message")
        or text_field(data, "error")
        or text_field(data, "message")
        or answer.describe()
    )
    # ok: false under a 200 is a refused request, whatever the status says.
    status = answer.status if not answer.ok else 400
    return status_failure(attrs.evolve(answer, status=status), message)


class TawkToClient:
    """Call the REST API with one account's *api_key*."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://api.tawk.to/v1",
        api_key: Secret,
        retry: CallRetries | None = None,
    ) -> None:
        self._base_url = api_root(base_url)
        self._api_key = api_key
        self._caller = PlatformCaller(
            session=session, platform=PLATFORM, read_failure=read_tawkto_failure, retry=retry
        )

    async def list_properties(self) -> tuple[Property, ...]:
        """Return every property the key can see (``POST /property.list``)."""
        data = await self._call("/property.list", {})
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise PlatformError("Tawk.to property.list answered without a data list")
        return tuple(
            Property(id=property_id, name=text_field(item, "name"))
            for item in items
            if (property_id := text_field(item, "propertyId") or text_field(item, "id"))
        )

    async def find_property(self, property_id: str) -> Property | None:
        """Return the property *property_id* if the key can see it, else ``None``."""
        for found in await self.list_properties():
            if found.id == property_id:
                return found
        return None

    async def _call(self, path: str, payload: Mapping[str, Any]) -> Any:
        request = Request(
            method="POST",
            url=self._base_url + path,
            label=f"POST {path}",
            json=dict(payload),
            headers={"Authorization": _basic_auth(self._api_key.reveal(), _PASSWORD)},
            # Every call we make is a read, even though the API spells reads as POST.
            idempotent=True,
            secrets=(self._api_key.reveal(),),
        )
        return (await self._caller.call(request)).data


def api_root(base_url: str) -> str:
    """Return the versioned API root for *base_url*, given with or without its ``/v1``.

    The original service took the host (``https://api.tawk.to``) and added ``/v1`` itself; our
    default names the root (``https://api.tawk.to/v1``). Both must work, so a URL whose path
    does not end in a version segment (``/v1``, ``/v2``) gets ``/v1``.
    """
    root = base_url.rstrip("/")
    last = urlsplit(root).path.rpartition("/")[2]
    return root if _VERSION.fullmatch(last) else f"{root}/v1"


def _basic_auth(login: str, password: str) -> str:
    # Built by hand: aiohttp.BasicAuth is deprecated and encode_basic_auth is new in 3.14.
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
