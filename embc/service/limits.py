"""A limit on the size of request bodies: 413 with a JSON error past it, whether the client says the size
(Content-Length) or streams the body in chunks."""

from __future__ import annotations

from embc.service.replies import send_error


class BodyLimit:
    """ASGI middleware: refuse a request whose body exceeds `limit` bytes. The body is read (up to the limit)
    before the app sees it, which every route that takes a body does anyway."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        messages, seen = [], 0
        while True:
            message = await receive()
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
