"""Turn every exception a handler raises into the JSON error envelope.

Expected errors (domain errors, aiohttp's 4xx, our :class:`~adapters_http.errors.HttpError`)
are answered quietly; anything else is a bug, logged with its traceback and answered with a
generic ``500`` so no exception text, SQL or secret reaches the caller. Cancellation is a
``BaseException`` and passes through untouched, and so does a client that hung up.
"""

from __future__ import annotations

from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters_http.errors import error_response, problem_for
from adapters_http.request_id import request_id
from adapters_http.routing import route_template

ERROR_LOGGER: Final = "integration_service.http"


@web.middleware
async def error_envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer errors raised below this layer with the JSON envelope."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and explicit successes are answers, not errors
        problem = problem_for(exc, request)
    except ConnectionResetError:
        # The client hung up mid-request: nobody is left to answer, and it is not our bug.
        # aiohttp closes the connection quietly; nothing was stored or acknowledged.
        raise
    except Exception as exc:  # noqa: BLE001  # the one place every bug becomes a 500
        problem = problem_for(exc, request)
        if problem.unexpected:
            structlog.get_logger(ERROR_LOGGER).error(
                "unhandled_exception",
                exc_info=exc,
                method=request.method,
                route=route_template(request),
                request_id=request_id(request),
            )
    return error_response(problem, request_id=request_id(request))
