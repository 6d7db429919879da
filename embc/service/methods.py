"""HTTP methods beyond the routes' own: HEAD wherever GET is answered, and a 405's `Allow` header with every
method its path takes (RFC 9110 asks for both; FastAPI routes take only the methods they name)."""

from __future__ import annotations

from starlette.routing import Match


class HeadAsGet:
    """ASGI middleware: a HEAD request is routed as a GET, and its response ends with the headers. Whatever body
    the app goes on to send is dropped; the server, its response complete, tells the app the client has gone, so
    a streamed body (an export) stops rather than being made in full for nobody."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def headers_only(message):
            nonlocal ended
            if message["type"] == "http.response.start":
                await send(message)
            elif not ended:
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        routed = {**scope, "method": "GET"}  # a copy: the server sends no body only while its scope says HEAD
        try:
            await self.app(routed, receive, headers_only)
        finally:
            if "route" in routed:  # the route the router matched, for the metrics outside
                scope["route"] = routed["route"]


def allowed(routes: list, scope: dict) -> str:
    """The `Allow` header of a 405: the methods of every route whose path matches the request's, HEAD with GET;
    a mount takes GET (embc's one mount serves static files)."""
    scope = {**scope, "root_path": ""}  # as the router saw it: inside a mount, its prefix is the root
    methods = {method for route in routes if route.matches(scope)[0] != Match.NONE
               for method in getattr(route, "methods", None) or ("GET",)}
    return ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))
