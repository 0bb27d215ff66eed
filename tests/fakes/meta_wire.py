"""What the fake Graph and Instagram graph share: Meta's error body and subscription answers."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

# The HTTP status Meta pairs with each error code it uses here (mostly 400, whatever the cause).
_ERROR_STATUS = {190: 400, 200: 403, 100: 400, 4: 400, 80004: 400, 2: 503, 1: 500}


def meta_error(code: int, message: str, *, subcode: int | None = None, **extra: Any) -> Any:
    """Return a Graph API error body."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_hex(8)
    error.update(extra)
    return {"error": error}


def error_response(code: int, message: str, **extra: Any) -> web.Response:
    """Return Meta's answer for an error *code*."""
    return web.json_response(
        meta_error(code, message, **extra), status=_ERROR_STATUS.get(code, 400)
    )


def unknown_object(node_id: str) -> web.Response:
    """Return Meta's answer for an id the token cannot see (code 100, subcode 33)."""
    message = (
        f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return error_response(100, message, subcode=33)


def bearer_or_query_token(request: web.Request) -> str:
    """Return the token of *request*: ``Authorization: Bearer`` wins over ``access_token``."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ")
    return request.query.get("access_token", "")


def subscription(
    request: web.Request, subscriptions: dict[str, tuple[str, ...]], object_id: str
) -> web.Response:
    """Answer ``POST|DELETE|GET .../subscribed_apps`` for *object_id*, updating *subscriptions*."""
    if request.method == "POST":
        fields = request.query.get("subscribed_fields", "")
        subscriptions[object_id] = tuple(f for f in fields.split(",") if f)
        return web.json_response({"success": True})
    if request.method == "DELETE":
        subscriptions.pop(object_id, None)
        return web.json_response({"success": True})
    if object_id not in subscriptions:
        return web.json_response({"data": []})
    entry = {"subscribed_fields": list(subscriptions[object_id])}
    return web.json_response({"data": [entry]})
