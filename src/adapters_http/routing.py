"""Register routes under both spellings of their path and name them for logs and metrics.

The contract says paths work with and without a trailing slash. A redirect would turn a POST
into a GET in many clients and aiohttp's ``router=`` argument is deprecated, so each route is
simply registered twice; :func:`route_template` folds both back into one label.
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

UNMATCHED_ROUTE: Final = "unmatched"


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Route *method* on *path* and on *path* with a trailing slash to *handler*.

    A ``GET`` also answers ``HEAD``, as aiohttp's ``add_get`` does.
    """
    bare = path.rstrip("/") or "/"
    for spelling in (bare, f"{bare}/") if bare != "/" else (bare,):
        if method == hdrs.METH_GET:
            app.router.add_get(spelling, handler)
        else:
            app.router.add_route(method, spelling, handler)


def route_template(request: web.BaseRequest) -> str:
    """Return the route's template (``/api/v1/integrations/{id}``), or ``unmatched``.

    Logs and metric labels use it instead of the raw path, so ids never multiply series.
    """
    match_info = getattr(request, "match_info", None)
    resource = None if match_info is None else match_info.route.resource
    if resource is None:
        return UNMATCHED_ROUTE
    return resource.canonical.rstrip("/") or "/"
