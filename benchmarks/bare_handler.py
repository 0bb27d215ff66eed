"""The baseline of the ingest benchmark: the least a webhook endpoint can do.

Read the body, verify Meta's HMAC with the same function the service uses, parse the JSON,
answer 200. No storage, no middlewares. ``python benchmarks/bare_handler.py PORT SECRET``.
"""

from __future__ import annotations

import json
import sys

from aiohttp import web

from integration_core.credentials import Secret
from integration_core.errors import InvalidSignature
from integration_core.signatures import meta


def make_app(secret: str) -> web.Application:
    """Return the bare app verifying with *secret*."""
    secrets = (Secret(secret),)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            meta.verify(body, request.headers.get(meta.HEADER), secrets)
        except InvalidSignature:
            return web.Response(status=401)
        json.loads(body)
        return web.json_response({"received": 1})

    app = web.Application()
    app.router.add_post("/api/v1/integrations/webhooks/whatsapp", receive)
    return app


if __name__ == "__main__":
    web.run_app(make_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
