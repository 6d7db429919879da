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


def raw_error(status: str, message: str, headers: str = "") -> bytes:
    """A whole HTTP/1.1 response carrying the JSON error, for the HTTP protocol to write itself (`status` as
    "408 Request Timeout"), after which it closes the connection."""
    body = error_body(message)
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{headers}"
            "connection: close\r\n\r\n").encode() + body
