"""The forwarder against a fake messaging service on 127.0.0.1 that verifies like a real one.

The sink verifies every delivery with the official ``standardwebhooks`` package.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks.webhooks import Webhook

from adapters_platforms.messaging import HttpMessageForwarder, MessagingServiceProbe
from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import DeliveryFailed, EventUnserializable, IntegrationServiceError
from integration_core.events import EventType, NormalizedEvent
from integration_core.ids import TenantId
from integration_core.testing import FrozenClock

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
AT = datetime.now(UTC).replace(microsecond=0)


def _signing_clock() -> FrozenClock:
    """The time deliveries are signed at: now, when the test runs (the sink allows 5 minutes of
    skew, and a slow run can start a test more than that after this module was imported)."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def _event() -> NormalizedEvent:
    return NormalizedEvent(
        id="evt_01",
        type=EventType.MESSAGE_RECEIVED,
        tenant_id=TenantId("acme"),
        integration_id="int_1",
        channel=Channel.WHATSAPP,
        occurred_at=AT,
        received_at=AT,
        data={"message": {"id": "wamid.1", "kind": "text", "text": "¡hola! 👋"}},
    )


class Sink:
    """A messaging service that verifies signatures and answers *statuses* in turn."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, object]] = []
        self.ids: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        payload = Webhook(SECRET).verify(body, dict(request.headers))
        self.received.append(payload)
        self.ids.append(request.headers["webhook-id"])
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)


async def _serve(aiohttp_server: ServerFactory, sink: Sink) -> str:
    app = web.Application()
    app.router.add_post("/events", sink.handle)
    server = await aiohttp_server(app)
    return str(server.make_url("/events"))


async def test_delivery_verifies_with_the_official_library(aiohttp_server: ServerFactory) -> None:
    sink = Sink()
    url = await _serve(aiohttp_server, sink)
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session, url=url, signing_secret=Secret(SECRET), clock=_signing_clock()
        )
        await forwarder.forward(_event())
    assert sink.ids == ["evt_01"]
    assert sink.received == [
        {
            "id": "evt_01",
            "type": "message.received",
            "tenant_id": "acme",
            "integration_id": "int_1",
            "channel": "whatsapp",
            "occurred_at": AT.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "received_at": AT.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": {"message": {"id": "wamid.1", "kind": "text", "text": "¡hola! 👋"}},
        }
    ]


async def test_non_2xx_is_a_failure_and_the_retry_keeps_the_id(
    aiohttp_server: ServerFactory,
) -> None:
    sink = Sink(503, 200)
    url = await _serve(aiohttp_server, sink)
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session, url=url, signing_secret=Secret(SECRET), clock=_signing_clock()
        )
        with pytest.raises(DeliveryFailed, match="answered 503"):
            await forwarder.forward(_event())
        await forwarder.forward(_event())
    assert sink.ids == ["evt_01", "evt_01"]


async def test_timeout_and_refused_connection_are_failures(aiohttp_server: ServerFactory) -> None:
    async def slow(request: web.Request) -> web.Response:
        import asyncio  # noqa: PLC0415 - only this handler sleeps

        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_post("/events", slow)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session,
            url=str(server.make_url("/events")),
            signing_secret=Secret(SECRET),
            clock=_signing_clock(),
            timeout_seconds=0.2,
        )
        with pytest.raises(DeliveryFailed, match="could not be reached"):
            await forwarder.forward(_event())
        closed = HttpMessageForwarder(
            session=session,
            url="http://127.0.0.1:9/events",
            signing_secret=Secret(SECRET),
            clock=_signing_clock(),
        )
        with pytest.raises(DeliveryFailed) as caught:
            await closed.forward(_event())
    assert SECRET not in str(caught.value)


async def test_body_is_compact_utf8_json() -> None:
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session, url="http://x", signing_secret=Secret(SECRET), clock=_signing_clock()
        )
        body = forwarder.body(_event())
    assert "¡hola! 👋".encode() in body
    assert json.loads(body)["id"] == "evt_01"


async def test_probe_reports_reachability(aiohttp_server: ServerFactory) -> None:
    url = await _serve(aiohttp_server, Sink())
    async with aiohttp.ClientSession() as session:
        await MessagingServiceProbe(session=session, url=url).check()
        with pytest.raises(IntegrationServiceError, match="could not be reached"):
            await MessagingServiceProbe(session=session, url="http://127.0.0.1:9/").check()


def _with_data(data: dict[str, object]) -> NormalizedEvent:
    return attrs.evolve(_event(), data=data)


def _deep(depth: int) -> dict[str, object]:
    inner: dict[str, object] = {}
    for _ in range(depth):
        inner = {"k": inner}
    return inner


async def test_lone_surrogates_are_sent_as_replacement_characters(
    aiohttp_server: ServerFactory,
) -> None:
    sink = Sink()
    url = await _serve(aiohttp_server, sink)
    # Lone high and low surrogates, and a pair split in two (joined again on the way out).
    text = "a\ud83d b\udc4b c\ud83d\udc4b"
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session, url=url, signing_secret=Secret(SECRET), clock=_signing_clock()
        )
        body = forwarder.body(_with_data({"message": {"text": text}}))
        await forwarder.forward(_with_data({"message": {"text": text}}))

    assert json.loads(body.decode("utf-8"))["data"]["message"]["text"] == "a\ufffd b\ufffd c👋"
    assert sink.received[0]["data"] == {"message": {"text": "a\ufffd b\ufffd c👋"}}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"secret-ish text": float("nan")}, "a number JSON cannot carry"),
        ({"secret-ish text": float("inf")}, "a number JSON cannot carry"),
        ({"secret-ish text": _deep(600)}, "nested too deep"),
    ],
    ids=["nan", "infinity", "deep"],
)
async def test_an_event_that_cannot_be_serialized_is_refused_before_any_request(
    aiohttp_server: ServerFactory, data: dict[str, object], reason: str
) -> None:
    sink = Sink()
    url = await _serve(aiohttp_server, sink)
    async with aiohttp.ClientSession() as session:
        forwarder = HttpMessageForwarder(
            session=session, url=url, signing_secret=Secret(SECRET), clock=_signing_clock()
        )
        with pytest.raises(EventUnserializable) as caught:
            await forwarder.forward(_with_data(data))

    assert caught.value.message.startswith("unserializable: ")
    assert reason in caught.value.message
    assert "secret-ish" not in caught.value.message
    assert sink.ids == []
