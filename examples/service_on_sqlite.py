"""Run the service itself on SQLite and post it a signed WhatsApp webhook.

Use 4 of 4: integration-service as a process, no library code of yours at all. This starts
``integration-service serve`` (as ``python -m integration_service serve``) on a free local port
with an embedded SQLite database in the working directory and development keys, waits for
``/api/v1/health``, then posts a WhatsApp delivery signed with ``WHATSAPP_WEBHOOK_SECRET`` the
way Meta would. The service answers ``200`` once the delivery is stored; an unsigned copy gets
``401``. Stopping it with SIGTERM is a clean shutdown.

It needs ``pip install integration-service`` (which brings integration-core).

Run: ``python examples/service_on_sqlite.py`` (exits 0 when every assertion holds; it leaves
``integration-service.db`` and its key file in the working directory).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Meta's App Secret, as WHATSAPP_WEBHOOK_SECRET; a made-up one for this example.
APP_SECRET = "example-app-secret"  # noqa: S105
START_SECONDS = 60


def free_port() -> int:
    """Return a TCP port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send one request; return its status and body (an error status is an answer too)."""
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(base: str, server: subprocess.Popen[bytes]) -> dict[str, object]:
    """Poll ``/api/v1/health`` until it answers 200; return its JSON body."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the service exited with {server.returncode} before it was healthy")
        try:
            status, body = call(f"{base}/api/v1/health")
        except OSError:  # not listening yet
            time.sleep(0.2)
            continue
        if status == 200:
            health: dict[str, object] = json.loads(body)
            return health
        time.sleep(0.2)
    raise SystemExit(f"/api/v1/health did not answer 200 within {START_SECONDS}s")


def delivery() -> bytes:
    """Return a WhatsApp Cloud API delivery holding one text message (made-up ids)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "771100220099"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "5491155550000"}],
        "messages": [
            {
                "from": "5491155550000",
                "id": "wamid.example-service-0001",
                "timestamp": "1765000000",
                "type": "text",
                "text": {"body": "Hola"},
            }
        ],
    }
    entry = {"id": "880011223399", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def main() -> None:
    """Start the service, check its health, post a signed and an unsigned webhook, stop it."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": "sqlite:///integration-service.db",
        "WHATSAPP_WEBHOOK_SECRET": APP_SECRET,
        "LOG_LEVEL": "warning",
    }
    # Our own interpreter running our own package: nothing untrusted on this command line.
    command = [sys.executable, "-m", "integration_service", "serve"]
    server = subprocess.Popen(command, env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(base, server)
        print(f"healthy: {health.get('status')}")

        body = delivery()
        digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
        url = f"{base}/api/v1/integrations/webhooks/whatsapp"
        status, answer = call(url, body=body, headers=headers)
        assert status == 200, (status, answer)
        status, answer = call(url, body=body, headers={"Content-Type": "application/json"})
        assert status == 401, (status, answer)
        assert json.loads(answer)["error"]["code"], answer  # a stable code, never a trace
        print("a signed delivery was accepted (200), an unsigned one refused (401)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            returncode = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert returncode == 0, f"the service exited with {returncode} on SIGTERM"


if __name__ == "__main__":
    main()
