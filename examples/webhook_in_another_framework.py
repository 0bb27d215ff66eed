"""Verify and normalize a WhatsApp webhook inside another framework, with only integration-core.

Use 1 of 4: your service already has a web framework and a database; it only wants our webhook
verification and our normalized events. This is a plain WSGI application (the standard
library's ``wsgiref``; Flask, Django or any WSGI/ASGI handler looks the same) that:

1. answers Meta's ``hub.challenge`` handshake (``meta.verify_challenge``);
2. checks ``X-Hub-Signature-256`` on the raw bytes *before* parsing them (``meta.verify``);
3. turns the delivery into platform-neutral events (``whatsapp.normalize``) and hands them to
   your own code (here, a list).

It needs ``pip install integration-core`` and nothing else: CI runs it in a fresh virtualenv in
which ``pip list`` shows no aiohttp, SQLAlchemy or psycopg.

Run: ``python examples/webhook_in_another_framework.py`` (exits 0 when every assertion holds).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.events import EventType
from integration_core.normalize import PlatformEvent, whatsapp
from integration_core.signatures import meta

APP_SECRET = Secret("example-app-secret")  # your Meta App Secret, from your own config
VERIFY_TOKEN = Secret("example-verify-token")  # what you typed into Meta's dashboard
MAX_BODY = 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], object]


def make_app(
    received: list[PlatformEvent],
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """Return a WSGI app that stores each verified delivery's events in *received*."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
            try:
                challenge = meta.verify_challenge(query, [VERIFY_TOKEN])
            except InvalidSignature:
                return _answer(start_response, "403 Forbidden", b"")
            return _answer(start_response, "200 OK", challenge.encode())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _answer(start_response, "413 Payload Too Large", b"")
        body = environ["wsgi.input"].read(length)  # the raw bytes Meta signed
        try:
            meta.verify(body, environ.get("HTTP_X_HUB_SIGNATURE_256"), [APP_SECRET])
        except InvalidSignature as exc:
            # exc.message says what was wrong without echoing the secret or the signature.
            return _answer(start_response, "401 Unauthorized", exc.message.encode())
        try:
            payload = json.loads(body)
        except ValueError:
            return _answer(start_response, "400 Bad Request", b"")
        received.extend(whatsapp.normalize(payload))  # never raises for any JSON value
        return _answer(start_response, "200 OK", b"")

    return app


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Keep the example's output to its own lines."""


def delivery() -> bytes:
    """Return a WhatsApp Cloud API delivery holding one text message (made-up ids)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "771100220033"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "5491155550000"}],
        "messages": [
            {
                "from": "5491155550000",
                "id": "wamid.example-0001",
                "timestamp": "1765000000",
                "type": "text",
                "text": {"body": "Hola, quiero pagar"},
            }
        ],
    }
    entry = {"id": "880011223344", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def call(
    url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send one request to the local server; return its status and body."""
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main() -> None:
    """Serve the app on a free local port and play Meta against it."""
    received: list[PlatformEvent] = []
    server: WSGIServer = make_server(
        "127.0.0.1", 0, make_app(received), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/whatsapp"
    try:
        query = urllib.parse.urlencode(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": "example-verify-token",
                "hub.challenge": "42",
            }
        )
        assert call(f"{url}?{query}") == (200, b"42")

        body = delivery()
        signed = {"Content-Type": "application/json", meta.HEADER: meta.sign(APP_SECRET, body)}
        assert call(url, body=body, headers=signed) == (200, b"")
        [event] = received
        assert event.type is EventType.MESSAGE_RECEIVED
        assert event.routing_key == "771100220033"  # the phone number id: which tenant it is for
        assert event.data["message"]["text"] == "Hola, quiero pagar"

        tampered = body.replace(b"pagar", b"robar")
        status, reason = call(url, body=tampered, headers=signed)
        assert status == 401, status
        assert b"example-app-secret" not in reason
        assert len(received) == 1  # nothing normalized from a delivery that failed verification
    finally:
        server.shutdown()
        server.server_close()
    print(f"verified and normalized 1 delivery into {event.type}; refused a tampered copy")


if __name__ == "__main__":
    main()
