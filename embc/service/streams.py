"""Streaming a writer's output as an HTTP body: the writer runs in a thread and hands its bytes over a bounded
queue, so an export is never built whole in memory."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

_DONE = object()
IDLE = 60.0  # seconds a writer waits on a reader that takes nothing (a client gone unnoticed) before it stops


class Stalled(BrokenPipeError):
    """The client took nothing for `IDLE` seconds: its export ends unfinished, and no fault of embc's."""


class _Pipe:
    """A binary file object whose writes go to a bounded queue; once the reader has gone, or has taken nothing for
    `IDLE` seconds, a write raises BrokenPipeError (Stalled), which ends the writer and lets the store go."""

    def __init__(self, chunks: queue.Queue, gone: threading.Event):
        self.chunks = chunks
        self.gone = gone

    def put(self, item) -> None:
        waited = 0.0
        while not self.gone.is_set() and waited < IDLE:
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                waited += 0.5
        if self.gone.is_set():
            raise BrokenPipeError("the reader has gone")
        raise Stalled(f"the client took nothing of its export for {IDLE:g} s; the export ends unfinished")

    def write(self, data) -> int:
        self.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False


class Streamed:
    """The bytes `write(file)` writes, as they come, for a response body; an error in the writer is raised to the
    reader. `close` (the response's background task, which runs when the client has hung up too) stops the writer
    at its next write."""

    def __init__(self, write: Callable[[_Pipe], object], depth: int = 16):
        self.chunks: queue.Queue = queue.Queue(maxsize=depth)
        self.gone = threading.Event()
        self.failure: list[BaseException] = []
        pipe = _Pipe(self.chunks, self.gone)

        def run() -> None:
            try:
                write(pipe)
            except BaseException as exc:  # handed to the reader, which raises it
                self.failure.append(exc)
            finally:
                try:
                    pipe.put(_DONE)
                except BrokenPipeError:
                    pass

        self.writer = threading.Thread(target=run, name="embc-export", daemon=True)
        self.writer.start()

    def __iter__(self) -> Iterator[bytes]:
        try:
            while (chunk := self._next()) is not _DONE:
                yield chunk
        finally:
            self.close()
        if self.failure:
            raise self.failure[0]

    def _next(self):
        """The next chunk, or _DONE; also _DONE when the writer ended without its last put, having given up on a
        reader that took nothing for `IDLE` seconds (its failure says so)."""
        while True:
            try:
                return self.chunks.get(timeout=0.5)
            except queue.Empty:
                if not self.writer.is_alive():
                    try:
                        return self.chunks.get_nowait()  # put just before the writer ended
                    except queue.Empty:
                        return _DONE

    def close(self) -> None:
        self.gone.set()
