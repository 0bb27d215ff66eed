"""The integrations API: connect a channel, list, show, change, disconnect, test, refresh.

Every call is scoped by the token's tenant, so another tenant's integration is simply not found
(``404``, never ``403``). Secrets come in through a setup body and never go out again: responses
carry them masked (``secrets_masked``), except the secrets we generate, handed out once at
creation (and again to a replay of that setup): webchat's signing secret and a Meta
integration's own verify token. Fixed paths (``/channels``, ``/webhooks/...``) never reach
the ``{id}`` routes: an id path parameter only matches our integration ids (``int_...``). A setup
sent again with the same ``Idempotency-Key`` answers ``200`` with the first answer (and
``Idempotent-Replayed: true``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs
from aiohttp import hdrs, web

from adapters_http.guard import admit
from adapters_http.json_body import read_json
from adapters_http.routing import add_route
from adapters_http.services import SERVICES, HttpServices
from integration_core.channels import Channel, Integration, IntegrationStatus
from integration_core.credentials import Secret
from integration_core.errors import InvalidInput, NotFound
from integration_core.serialization import format_datetime, make_converter
from integration_core.use_cases.integrations import integration_etag
from integration_core.use_cases.onboarding import (
    SETUP_FIELDS,
    ConnectedIntegration,
    IntegrationView,
    check_setup_body,
)

INTEGRATIONS_PATH: Final = "/api/v1/integrations"
_ID: Final = "{id:int_[0-9a-z]+}"

SETUP_CHANNELS: Final = (
    Channel.WHATSAPP,
    Channel.MESSENGER,
    Channel.INSTAGRAM,
    Channel.TELEGRAM,
    Channel.WEBCHAT,
    Channel.TAWKTO,
    Channel.MERCADOPAGO,
)
"""The channels ``POST .../{channel}/setup`` connects."""

# Config fields that may be given as a list of strings; stored comma-separated.
_LIST_FIELDS: Final = frozenset({"allowed_origins"})
# Secrets travel in HTTP headers to the platforms, where a control character cannot go.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

IDEMPOTENCY_KEY: Final = "Idempotency-Key"
IDEMPOTENT_REPLAYED: Final = "Idempotent-Replayed"

_INPUT: Final = make_converter(forbid_extra_keys=True)
_NO_STORE: Final = {hdrs.CACHE_CONTROL: "no-store"}


@attrs.frozen(kw_only=True)
class UpdateBody:
    """``PATCH .../{id}``: re-enable or disable, and merge config."""

    status: IntegrationStatus | None = None
    config: dict[str, str] | None = None


@attrs.frozen(kw_only=True)
class TestMessageBody:
    """``POST .../{id}/test-message``."""

    __test__ = False  # not a pytest test class, whatever its name

    to: str
    text: str


def integration_body(
    integration: Integration, secrets_masked: Mapping[str, str]
) -> dict[str, object]:
    """Return *integration* as the API shows it."""
    expires = integration.token_expires_at
    return {
        "id": integration.id,
        "tenant_id": integration.tenant_id,
        "channel": str(integration.channel),
        "status": str(integration.status),
        "external_id": integration.external_id,
        "config": dict(integration.config),
        "webhook_url": integration.webhook_url,
        "secrets_masked": dict(secrets_masked),
        "token_expires_at": None if expires is None else format_datetime(expires),
        "created_at": format_datetime(integration.created_at),
        "updated_at": format_datetime(integration.updated_at),
    }


def _view_body(found: IntegrationView) -> dict[str, object]:
    body = integration_body(found.integration, found.secrets_masked)
    if found.status_history is not None:
        body["status_history"] = [
            {"status": str(change.status), "at": format_datetime(change.at)}
            for change in found.status_history
        ]
    return body


def _connected_body(connected: ConnectedIntegration) -> dict[str, object]:
    body = integration_body(connected.integration, connected.secrets_masked)
    if connected.signing_secret is not None:
        body["signing_secret"] = connected.signing_secret.reveal()
    if connected.verify_token is not None:
        body["verify_token"] = connected.verify_token.reveal()
    return body


def _services(request: web.Request) -> HttpServices:
    return request.app[SERVICES]


def split_setup_body(
    channel: Channel, body: Mapping[str, Any]
) -> tuple[dict[str, Secret], dict[str, str]]:
    """Split a setup body into secrets and config; :class:`InvalidInput` lists every problem."""
    fields = SETUP_FIELDS[channel]
    secrets: dict[str, Secret] = {}
    config: dict[str, str] = {}
    problems: list[str] = []
    for name, given in sorted(body.items()):
        known = name in fields.secret_names or name in fields.config_names
        if not known:
            problems.append(f"{name} is not a field of the {channel} setup")
            continue
        value = given
        if name in _LIST_FIELDS and isinstance(given, list):
            if not all(isinstance(item, str) for item in given):
                problems.append(f"{name} must be a list of strings")
                continue
            value = ",".join(item.strip() for item in given if item.strip())
        if not isinstance(value, str):
            problems.append(f"{name} must be a string")
            continue
        if name in fields.secret_names:
            if _CONTROL.search(value):
                problems.append(f"{name} must not contain control characters")
                continue
            secrets[name] = Secret(value)
        else:
            config[name] = value.strip()
    try:
        check_setup_body(channel, secrets, config)
    except InvalidInput as exc:
        problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise InvalidInput(f"the {channel} setup is not valid", problems=tuple(problems))
    return secrets, config


async def list_integrations(request: web.Request) -> web.Response:
    """List the tenant's integrations and the channels this service can connect."""
    principal = await admit(request, "integrations:read")
    found = await _services(request).list_integrations(principal.tenant_id)
    return web.json_response(
        {"data": [_view_body(v) for v in found], "channels": [str(c) for c in SETUP_CHANNELS]},
        headers=_NO_STORE,
    )


async def setup_integration(request: web.Request) -> web.Response:
    """Connect the tenant's account on one channel; ``201`` with the new integration."""
    principal = await admit(request, "integrations:write")
    name = request.match_info["channel"]
    channel = next((c for c in SETUP_CHANNELS if c == name), None)
    if channel is None:
        raise NotFound(f"There is no {name!r} channel to set up.")
    key = request.headers.get(IDEMPOTENCY_KEY)
    body = await read_json(request, _INPUT, dict[str, Any])
    secrets, config = split_setup_body(channel, body)
    replayed = False
    if key is None:
        connect = _services(request).connect_integration
        connected = await connect(principal.tenant_id, channel, credentials=secrets, config=config)
    else:
        once = _services(request).connect_integration_once
        result = await once(
            principal.tenant_id, channel, credentials=secrets, config=config, idempotency_key=key
        )
        connected, replayed = result.connected, result.replayed
    headers: dict[str, str] = {
        hdrs.CACHE_CONTROL: "no-store",
        hdrs.LOCATION: f"{INTEGRATIONS_PATH}/{connected.integration.id}",
    }
    if replayed:
        headers[IDEMPOTENT_REPLAYED] = "true"
    # A replay answers 200 with the first answer's body (CONTRACT section 3).
    return web.json_response(
        _connected_body(connected), status=200 if replayed else 201, headers=headers
    )


def _if_match(request: web.Request) -> list[str] | None:
    """Return the entity tags of ``If-Match`` (``None`` without one; ``*`` kept as is)."""
    value = request.headers.get(hdrs.IF_MATCH)
    if value is None:
        return None
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    if not tags:
        raise InvalidInput("If-Match must name an entity tag or *")
    return tags


async def show_integration(request: web.Request) -> web.Response:
    """Show one of the tenant's integrations, with its status history (oldest first).

    The ``ETag`` names the stored state; a ``PATCH`` with it as ``If-Match`` applies only to it.
    """
    principal = await admit(request, "integrations:read")
    get = _services(request).get_integration
    found = await get(principal.tenant_id, request.match_info["id"])
    headers = {**_NO_STORE, hdrs.ETAG: integration_etag(found.integration)}
    return web.json_response(_view_body(found), headers=headers)


async def update_integration(request: web.Request) -> web.Response:
    """Enable or disable an integration, or change its config; only the fields named change.

    With ``If-Match``, ``412 precondition_failed`` if the integration changed since that ETag.
    """
    principal = await admit(request, "integrations:write")
    update = _services(request).update_integration
    if_match = _if_match(request)
    body = await read_json(request, _INPUT, UpdateBody)
    found = await update(
        principal.tenant_id,
        request.match_info["id"],
        status=body.status,
        config=body.config,
        if_match=if_match,
    )
    headers = {**_NO_STORE, hdrs.ETAG: integration_etag(found.integration)}
    return web.json_response(_view_body(found), headers=headers)


async def delete_integration(request: web.Request) -> web.Response:
    """Disconnect an integration and forget its secrets; ``204``."""
    principal = await admit(request, "integrations:write")
    disconnect = _services(request).disconnect_integration
    await disconnect(principal.tenant_id, request.match_info["id"])
    return web.Response(status=204)


async def send_test_message(request: web.Request) -> web.Response:
    """Send a test message through an integration; the platform's message id."""
    principal = await admit(request, "integrations:write")
    send = _services(request).send_test_message
    body = await read_json(request, _INPUT, TestMessageBody)
    message_id = await send(
        principal.tenant_id, request.match_info["id"], to=body.to, text=body.text
    )
    return web.json_response({"message_id": message_id}, headers=_NO_STORE)


async def refresh_token(request: web.Request) -> web.Response:
    """Exchange an integration's token for a fresh one; the integration."""
    principal = await admit(request, "integrations:write")
    refresh = _services(request).refresh_integration_token
    found = await refresh(principal.tenant_id, request.match_info["id"])
    return web.json_response(_view_body(found), headers=_NO_STORE)


def add_integration_routes(app: web.Application) -> None:
    """Register the integrations API; fixed paths before the ``{id}`` ones."""
    add_route(app, hdrs.METH_GET, f"{INTEGRATIONS_PATH}/channels", list_integrations)
    add_route(app, hdrs.METH_POST, f"{INTEGRATIONS_PATH}/{{channel}}/setup", setup_integration)
    one = f"{INTEGRATIONS_PATH}/{_ID}"
    add_route(app, hdrs.METH_GET, one, show_integration)
    add_route(app, hdrs.METH_PATCH, one, update_integration)
    add_route(app, hdrs.METH_DELETE, one, delete_integration)
    add_route(app, hdrs.METH_POST, f"{one}/test-message", send_test_message)
    add_route(app, hdrs.METH_POST, f"{one}/refresh-token", refresh_token)
