"""A deadline on each request's headers: uvicorn waits for them without end, so a client that opens connections
and sends nothing, or its headers a byte at a time, would hold each one open for as long as it likes."""

from __future__ import annotations

import asyncio
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from embc.service.replies import raw_error


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol, but a request whose headers are not all in `wait` seconds after its connection
    opened (or, on a kept-alive connection, after its first byte) gets a 408 JSON error and its connection
    closes. The body's own wait is `BodyLimit`'s."""

    def __init__(self, *args, wait: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.wait, self.deadline, self.armed = wait, None, 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a kept-alive connection's next request; the first keeps its connection's
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self.armed = time.monotonic()
        self.deadline = self.loop.call_later(self.wait, self._expired)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        # uvloop counts a timer from the loop's cached time, which lags the clock by the work done since: it fired
        # 1.99995 s after the connection for a wait of 2 s. The client gets the whole wait.
        if (early := self.armed + self.wait - time.monotonic()) > 0:
            self.deadline = self.loop.call_later(early, self._expired)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # Pipelined behind a request still being answered: the client waits on the server, so its wait starts
            # again, and a 408 now would land inside that answer.
            return self._arm()
        self.transport.write(raw_error("408 Request Timeout",
                                       f"the request headers did not all arrive within {self.wait:g} s"))
        self.transport.close()
