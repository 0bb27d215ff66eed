"""A fake Tawk.to REST API at ``/v1``: Basic auth with the API key as username.

Modelled on what PLATFORMS.md section 3.2 could establish (RPC-style POSTs with JSON bodies,
``POST /v1/property.list`` answering ``{"ok": true, "data": [{"propertyId", "name"}]}``) plus an
assumed error shape, ``{"ok": false, "error": "<message>"}``. An unknown key or an empty
password is refused with 401, as the real API refuses one.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from .server import FakeServer


class FakeTawkTo(FakeServer):
    """API keys and the properties each one can see."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str]] = {}
        super().__init__()

    @property
    def api_url(self) -> str:
        """Return the REST root (``TAWKTO_BASE_URL``)."""
        return f"{self.url}/v1"

    def add_key(self, api_key: str, properties: dict[str, str]) -> None:
        """Accept *api_key*, seeing *properties* (id -> name)."""
        self.keys[api_key] = dict(properties)

    def fault_body(self, status: int) -> Any:
        """Return the (assumed) Tawk.to body for an injected *status*."""
        return {"ok": False, "error": f"HTTP {status}"}

    def routes(self, router: web.UrlDispatcher) -> None:
        """Serve the property listing."""
        router.add_post("/v1/property.list", self._property_list)

    def _key(self, request: web.Request) -> str | None:
        login, password = basic_credentials(request.headers.get("Authorization", ""))
        if not password or login not in self.keys:
            return None
        return login

    async def _property_list(self, request: web.Request) -> web.Response:
        key = self._key(request)
        if key is None:
            return web.json_response({"ok": False, "error": "Unauthorized"}, status=401)
        data = [
            {"propertyId": property_id, "name": name, "type": "business", "status": "active"}
            for property_id, name in self.keys[key].items()
        ]
        return web.json_response({"ok": True, "data": data})


def basic_credentials(header: str) -> tuple[str | None, str | None]:
    """Return the login and password of a ``Basic`` *header* (``None`` s if it is not one)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else (None, None)
