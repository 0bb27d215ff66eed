"""Read a JSON request body into a typed value, with errors a client can act on."""

from __future__ import annotations

import json
from typing import Final, TypeVar

import cattrs
from aiohttp import web
from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError

from adapters_http.body_limit import read_body
from adapters_http.errors import InvalidJson, UnsupportedMediaType
from integration_core.errors import InvalidInput

T = TypeVar("T")

JSON_CONTENT_TYPE: Final = "application/json"


async def read_json(request: web.Request, converter: cattrs.Converter, cls: type[T]) -> T:
    """Return the body as a *cls*, structured by *converter* (one per boundary).

    ``415 unsupported_media_type`` unless the body is ``application/json`` (parameters such as
    ``charset`` are fine), ``413`` over the size limit, ``400 invalid_json`` if it does not parse
    and ``400 invalid_request`` with one readable problem per bad field if it does not fit *cls*.
    """
    if request.content_type != JSON_CONTENT_TYPE:
        raise UnsupportedMediaType(f"The request body must be {JSON_CONTENT_TYPE}.")
    body = await read_body(request)
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise InvalidJson("The request body is not valid JSON.") from None
    try:
        return converter.structure(data, cls)
    except (BaseValidationError, ForbiddenExtraKeysError) as exc:
        problems = tuple(cattrs.transform_error(exc))
        raise InvalidInput("The request body is not valid.", problems=problems) from None
    except (TypeError, ValueError, AttributeError, KeyError):
        # Shapes cattrs cannot even start on (a list where an object belongs, ...).
        raise InvalidInput(
            "The request body is not valid.", problems=("expected a JSON object @ $",)
        ) from None
