"""What browsers may do with embc's responses: none is framed by another site or read as a type other than the one
it names, and the map's pages load only the server's own files."""

from __future__ import annotations

# A page that holds the API key can rename clusters: no other site may frame it.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'", "Referrer-Policy": "no-referrer"}
GUARDS = ((b"x-content-type-options", b"nosniff"), (b"content-security-policy", b"frame-ancestors 'none'"))


class Guarded:
    """ASGI middleware: every response says `nosniff` and, unless it sets a policy of its own, may not be framed
    (the API docs' page, where a user may have typed the key, among them)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                named = {name.lower() for name, _ in headers}
                message = {**message, "headers": headers + [guard for guard in GUARDS if guard[0] not in named]}
            await send(message)

        await self.app(scope, receive, guarded)
