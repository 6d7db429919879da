"""Streaming a writer's output as an HTTP body: the writer runs in a thread and hands its bytes over a bounded
queue, so an export is never built whole in memory."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

_DONE = object()


class _Pipe:
    """A binary file object whose writes go to a bounded queue."""

    def __init__(self, chunks: queue.Queue):
        self.chunks = chunks

    def write(self, data) -> int:
        # A reader gone for a minute (the client hung up) ends the writer, which lets the store go.
        self.chunks.put(bytes(data), timeout=60)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False


def streamed(write: Callable[[_Pipe], object], depth: int = 16) -> Iterator[bytes]:
    """The bytes `write(file)` writes, as they come; an error in the writer is raised here."""
    chunks: queue.Queue = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            write(_Pipe(chunks))
        except BaseException as exc:  # handed to the reader, which raises it
            failure.append(exc)
        finally:
            chunks.put(_DONE)

    threading.Thread(target=run, name="embc-export", daemon=True).start()
    while (chunk := chunks.get()) is not _DONE:
        yield chunk
    if failure:
        raise failure[0]
