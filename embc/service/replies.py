"""The JSON error that ASGI middleware (or the HTTP protocol) sends itself, before or instead of the app: the same
`{"error", "detail"}` shape as every route's."""

from __future__ import annotations

import json


def error_body(message: str) -> bytes:
    return json.dumps({"error": message, "detail": None}).encode()


async def send_error(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
