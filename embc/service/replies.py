"""The JSON error that ASGI middleware sends itself, before or instead of the app: the same
`{"error", "detail"}` shape as every route's."""

from __future__ import annotations

import json


async def send_error(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message, "detail": None}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
