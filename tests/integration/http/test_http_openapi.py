"""docs/openapi.yaml documents exactly the routes the app serves.

The one route with a channel in its path, ``POST .../{channel}/setup``, is documented once per
channel (each with its own body), so it is expanded here to every channel the app connects.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from aiohttp import hdrs

from adapters_http import create_app, errors
from adapters_http.routes.integrations import SETUP_CHANNELS

from .conftest import MakeServices

OPENAPI = Path(__file__).parents[3] / "docs" / "openapi.yaml"
SETUP_ROUTE = "/api/v1/integrations/{channel}/setup"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def _served(make_services: MakeServices) -> set[tuple[str, str]]:
    app = create_app(make_services())
    served = set()
    for route in app.router.routes():
        if route.method in {hdrs.METH_HEAD, hdrs.METH_OPTIONS, hdrs.METH_ANY}:
            continue
        path = route.resource.canonical.rstrip("/") if route.resource else ""
        if path == SETUP_ROUTE:
            served |= {
                (route.method.lower(), path.format(channel=channel)) for channel in SETUP_CHANNELS
            }
            continue
        served.add((route.method.lower(), path or "/"))
    return served


def test_every_route_is_documented_and_every_documented_route_exists(
    make_services: MakeServices,
) -> None:
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert _served(make_services) == documented


def test_every_error_code_in_the_table_is_documented() -> None:
    codes = {spec.code for spec in errors.DOMAIN_ERRORS.values()}
    codes |= {code for code, _ in errors.HTTP_STATUS_ERRORS.values()}
    codes |= {cls.code for cls in _subclasses(errors.HttpError)}
    codes.add("internal_error")
    document = yaml.safe_load(OPENAPI.read_text())
    documented = set(
        document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
            "enum"
        ]
    )
    assert codes <= documented
