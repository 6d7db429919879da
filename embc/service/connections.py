"""A bound on the connections the server holds open: each holds a file descriptor, and a client that opens
thousands (idle, or sending its headers slowly) would otherwise leave the server none for its own files."""

from __future__ import annotations

import asyncio

from embc.service.headers import HeaderDeadline
from embc.service.replies import raw_error

LINGER = 1.0  # seconds a refused connection stays half-open: time for the client's request to arrive and be dropped
# Seconds an idle kept-alive connection stays open: longer than clients keep one idle (httpx, under embc's client:
# 5 s), so that none sends a request on a connection the server is closing. At uvicorn's 5 s, the same as httpx's,
# one could; a job holding the GIL makes the server's close late, and the request that came meanwhile is reset.
KEEP_ALIVE = 30


class ConnectionLimit(HeaderDeadline):
    """The HTTP protocol with its header deadline, and a bound: a connection opened while `most` others are
    open gets a 503 JSON error with Retry-After at once, without its request being read, and is closed."""

    def __init__(self, *args, most: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.most, self.refused = most, False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) <= self.most:
            return
        self.refused = True
        self._disarm()
        transport.write(raw_error("503 Service Unavailable", f"the server holds the most connections it keeps open "
                                  f"({self.most}, embc serve --max-connections): try again shortly",
                                  "retry-after: 1\r\n"))
        # Closing now, with the client's request unread, would reset the connection, and the client might lose
        # the answer: the write side ends here, and what the client sends meanwhile is dropped.
        transport.write_eof()
        self.loop.call_later(LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)
