"""A messaging service that accepts everything: the far end of the drain benchmark.

``python benchmarks/sink.py PORT``; it does not verify signatures (the e2e tests do), so its
cost stays out of the figure.
"""

from __future__ import annotations

import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    """Read the event and answer 204."""
    await request.read()
    return web.Response(status=204)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/events", accept)
    app.router.add_route("HEAD", "/events", accept)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
