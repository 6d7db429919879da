"""Limits on request bodies: 413 with a JSON error past a size, whether the client says the size
(Content-Length) or streams the body in chunks; 408 when the body stops arriving."""

from __future__ import annotations

import asyncio

from embc.service.replies import send_error

BODY_WAIT = 60.0  # seconds between two parts of a body, as nginx's client_body_timeout


class BodyLimit:
    """ASGI middleware: refuse a request whose body exceeds `limit` bytes, or of which nothing more arrives for
    `wait` seconds (a client that stalls would otherwise hold its connection, and a body spooled part-way, for as
    long as it likes). The body is read (up to the limit) before the app sees it, which every route that takes a
    body does anyway."""

    def __init__(self, app, limit: int, wait: float = BODY_WAIT):
        self.app, self.limit, self.wait = app, limit, wait

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        messages, seen = [], 0
        while True:
            try:
                async with asyncio.timeout(self.wait):
                    message = await receive()
            except TimeoutError:
                return await send_error(send, 408, f"the request body stopped arriving: nothing more came for "
                                        f"{self.wait:g} s", [(b"connection", b"close")])
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return await self._refuse(send)
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        await send_error(send, 413, f"the request body is over the limit of {self.limit:,} bytes")
