"""A request that the server's stop cancels (its client was still sending its body, or its work outlasted the
wait): answered 503 where nothing was sent yet, instead of ending in a traceback in the log."""

from __future__ import annotations

import asyncio

from embc.service.replies import send_error


class Stoppable:
    """ASGI middleware: a cancelled request ends quietly, with a 503 when its response had not started."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            if not started:
                await send_error(send, 503, "the server is stopping")
