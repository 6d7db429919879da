"""The API key: every request but the public pages (health, the map's page and its files, the API's docs) sends
`Authorization: Bearer KEY`. It is checked, in constant time, before the request's body is read: a client
without the key cannot make the server hold a body of up to the size limit."""

from __future__ import annotations

import hmac
import re

from embc.errors import ParameterError
from embc.service.replies import send_error

PUBLIC = {"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
DOCS_FILES = "/docs/files"  # the docs' scripts and styles
# The map's files, its page for a collection (which asks for the key), and the docs' files.
PUBLIC_UNDER = ("/static/", "/c/", DOCS_FILES + "/")
MISSING = "send the API key as Authorization: Bearer KEY"
WRONG = "wrong API key"
# Shorter keys fall to guessing, the server does not limit how often a client may try (a proxy does), and a
# key is masked wherever it appears in an error message, which a short one would garble.
MIN_KEY = 16


def check_key(key: str) -> None:
    """Refuse a key that no client could send in a header, and one short enough to guess (an empty one would lock
    every client out)."""
    if not re.fullmatch(rf"[!-~]{{{MIN_KEY},}}", key):
        raise ParameterError(f"an API key is {MIN_KEY} or more visible ASCII characters, without spaces: clients send "
                             "it in a header (for example: openssl rand -hex 16)")


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_UNDER)


class KeyCheck:
    """ASGI middleware: 401 without the key, 403 with a wrong one, on every path that is not public."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]):
            return await self.app(scope, receive, send)
        scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"bearer" or not given:
            return await send_error(send, 401, MISSING, [(b"www-authenticate", b"Bearer")])
        if not hmac.compare_digest(given, self.key):
            return await send_error(send, 403, WRONG, [(b"www-authenticate", b'Bearer error="invalid_token"')])
        await self.app(scope, receive, send)
